// Polling the API while something is running: one request at a time, slower while the tab is hidden.

/**
 * Call `task` now and again every `interval` ms for as long as it resolves truthy. A task that
 * throws is retried (a network blip must not stop a progress bar for good). Returns
 * `{ stop(), now() }`; `now()` runs the task at once (after an action such as cancel).
 */
export function poll(task, { interval = 2000, hiddenInterval = 10000, retryInterval = 5000 } = {}) {
  let timer = null;
  let running = false;
  let again = false;
  let stopped = false;

  async function tick() {
    clearTimeout(timer);
    timer = null;
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    let next = interval;
    let keepGoing = true;
    try {
      keepGoing = Boolean(await task());
    } catch (err) {
      console.warn("poll failed; retrying", err);
      next = retryInterval;
    }
    running = false;
    if (stopped) return;
    if (again) {
      again = false;
      tick();
    } else if (keepGoing) {
      timer = setTimeout(tick, document.hidden ? Math.max(next, hiddenInterval) : next);
    }
  }

  const onVisible = () => {
    if (!document.hidden && timer !== null) tick();
  };
  document.addEventListener("visibilitychange", onVisible);
  tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    },
    now: tick,
  };
}
