import { invalidArgument } from '../../errors.js';

/**
 * The sample times of the dashboard's history: a fixed-capacity ring. Series keep their values in arrays
 * indexed by the same slots, so one ring of times serves every series and memory never grows with time:
 * once full, each new sample overwrites the oldest.
 */
export class Timeline {
  /** Sample time of each slot, in epoch milliseconds. */
  readonly times: Float64Array;
  /** Samples held, at most `capacity`. */
  length = 0;
  /** Samples taken since creation, including overwritten ones. */
  ticks = 0;
  private next = 0;

  /** @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `capacity` is not an integer >= 2. */
  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 2)) {
      invalidArgument(`telemeter/dashboard: a timeline needs at least 2 points, got ${capacity}`);
    }
    this.times = new Float64Array(capacity);
  }

  /** Records a sample at `time` and returns its slot, which reuses the oldest one once the ring is full. */
  advance(time: number): number {
    const slot = this.next;
    this.times[slot] = time;
    this.next = (slot + 1) % this.capacity;
    if (this.length < this.capacity) this.length++;
    this.ticks++;
    return slot;
  }

  /** Time of the oldest sample held, or NaN when empty. */
  get oldest(): number {
    return this.length === 0 ? Number.NaN : this.times[this.slotAt(0)];
  }

  /** Time of the newest sample, or NaN when empty. */
  get newest(): number {
    return this.length === 0 ? Number.NaN : this.times[this.slotAt(this.length - 1)];
  }

  /** Slot of the `n`-th sample held, oldest first. */
  slotAt(n: number): number {
    return (this.next - this.length + n + this.capacity) % this.capacity;
  }

  /** Slots of the samples taken after `time` (all of them when `time` is undefined), oldest first. */
  slotsAfter(time: number | undefined): number[] {
    const slots: number[] = [];
    for (let n = 0; n < this.length; n++) {
      const slot = this.slotAt(n);
      if (time === undefined || this.times[slot] > time) slots.push(slot);
    }
    return slots;
  }
}
