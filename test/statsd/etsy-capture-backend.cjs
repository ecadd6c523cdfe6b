// A backend for Etsy's statsd daemon (loaded by path from its config): prints every flush as one JSON line,
// so a test can read what the daemon made of the packets it received.
exports.init = (_startupTime, _config, events) => {
  events.on('flush', (_timestamp, metrics) => {
    const snapshot = {
      counters: metrics.counters,
      gauges: metrics.gauges,
      timers: metrics.timers,
      timerCounters: metrics.timer_counters,
    };
    process.stdout.write(`TELEMETER-CAPTURE ${JSON.stringify(snapshot)}\n`);
  });
  return true;
};
