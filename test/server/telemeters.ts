/** Telemeters for the server tests: one that counts and can hold or fail its renders. */
import { counter, type ExpositionFormat, type Logger, setLogger, Telemeter } from '../../src/index.js';

/**
 * Counts `render` calls; `hold()` keeps renders from producing a byte until `release()`, so a test
 * can have scrapes in flight for as long as it needs without relying on time; `failNext` makes the
 * next renders throw (the message names a metric, which must never reach a client).
 */
export class ControlledTelemeter extends Telemeter {
  renders = 0;
  failNext = 0;
  private held = false;

  constructor() {
    super({
      metrics: [
        counter('shop.order.count', {
          eventName: 'shop.order.stop',
          measurement: 'duration',
          tags: ['status'],
        }),
      ],
    });
  }

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
  }

  override *render(options: { format?: ExpositionFormat } = {}): Generator<string> {
    this.renders++;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('cannot render shop_order_count');
    }
    while (this.held) yield '';
    yield* super.render(options);
  }
}

/** Captures telemeter's log lines for the duration of a test. */
export function captureLogs(): { warnings: string[]; errors: string[]; restore: () => void } {
  const warnings: string[] = [];
  const errors: string[] = [];
  const capture: Logger = {
    warn: (_fields, message) => warnings.push(message),
    error: (_fields, message) => errors.push(message),
  };
  setLogger(capture);
  return { warnings, errors, restore: () => setLogger(null) };
}
