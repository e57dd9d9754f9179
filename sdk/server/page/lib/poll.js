// Polling without overlap: poll(task, ms) runs task() now and again ms after each run ends,
// until task() returns true (done) or stop() is called (a view's dispose). Errors are handed to
// onError and polling goes on (a server restart is survived).
export function poll(task, ms = 1000, onError = () => {}) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    let done = false;
    try { done = await task(); } catch (error) { onError(error); }
    if (!stopped && !done) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}

// Several stop functions as one.
export function stopAll(stops) {
  return () => { for (const stop of stops.splice(0)) { try { stop(); } catch { /* ignore */ } } };
}
