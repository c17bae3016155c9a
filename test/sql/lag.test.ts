import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LagClock } from '../../src/sql/lag.ts'

test('lag: an idle primary shows no lag; a replica behind shows the time since the primary was last at its position', () => {
  const clock = new LagClock(60_000)
  assert.equal(clock.lagOf(0, 0), Infinity)
  // The primary sits at 100 for an hour: a replica at 100 is not behind, however old that commit.
  for (let t = 0; t <= 3_600_000; t += 250) clock.sample(t, 100)
  assert.equal(clock.lagOf(100, 3_600_000), 0)
  // A write: the primary moves to 200. A replica still at 100 has been behind since the primary was last seen at 100.
  clock.sample(3_600_250, 200)
  assert.equal(clock.lagOf(100, 3_600_250), 250)
  assert.equal(clock.lagOf(100, 3_605_000), 5_000)
  assert.equal(clock.lagOf(200, 3_605_000), 0)
  // Behind everything kept: at least the retention window.
  assert.ok(clock.lagOf(50, 3_605_000) >= 60_000)
})
