/**
 * Replica lag measured from replication positions, the same way on every engine: the router
 * samples the primary's position on each probe and keeps when each was first seen; a replica's
 * lag is then how long ago the primary first held something the replica has not applied yet.
 * An idle primary therefore shows no lag however old its last commit (unlike PostgreSQL's
 * `now() - pg_last_xact_replay_timestamp()`), and a replica applying with a delay
 * (`recovery_min_apply_delay`, `MASTER_DELAY`) shows that delay.
 */
export class LagClock {
  /** Primary positions, oldest first, strictly increasing, each with the last time it was still the primary's. */
  readonly #samples: { seen: number; pos: number }[] = []

  /** @param retainMs how far back samples are kept; a replica further behind reads as at least this. */
  constructor(private readonly retainMs: number) {}

  /** The primary's latest known position; undefined before the first sample. */
  get latest(): number | undefined {
    return this.#samples.at(-1)?.pos
  }

  /** Records the primary's position `pos`, read at `at` (ms). */
  sample(at: number, pos: number): void {
    const last = this.#samples.at(-1)
    if (last && pos <= last.pos) last.seen = at
    else this.#samples.push({ seen: at, pos })
    while (this.#samples.length > 1 && this.#samples[0]!.seen < at - this.retainMs) this.#samples.shift()
  }

  /**
   * The lag of a replica that has applied up to `applied`, at `now`: 0 when it has everything
   * the primary was last seen holding; otherwise the time since the primary was last seen at a
   * position the replica has applied (an upper bound: the primary moved past it some time after).
   * Infinity before any sample (nothing to compare with).
   */
  lagOf(applied: number, now: number): number {
    const s = this.#samples
    if (!s.length) return Infinity
    const firstAhead = s.findIndex((x) => x.pos > applied)
    if (firstAhead < 0) return 0
    if (firstAhead === 0) return Math.max(this.retainMs, now - s[0]!.seen)
    return Math.max(0, now - s[firstAhead - 1]!.seen)
  }
}
