import type { Counters } from '../counters/counters.ts'
import { ipBucket } from './throttle.ts'

/**
 * The limits on sending sign-in codes by SMS, counted in the counters port so they hold across
 * every API node and worker (with Redis counters) and cost an attacker the same on each.
 *
 * SMS costs money per message and "SMS pumping" (requesting codes to numbers an attacker earns a
 * share from) is the usual abuse, so there are three layers:
 * - per client: `perIpHour` requests per address (an IPv6 /64) and `perDeviceHour` per device id
 *   (`X-Device-Id`), checked when the code is requested. Neither depends on the number, so
 *   refusing them tells nothing about it;
 * - per number: `perPhoneMinute`, `perPhoneHour`, `perPhoneDay` sends, checked by the send job, so
 *   the answer to a request is the same whether the number is limited or not;
 * - `dailyBudget`: SMS per UTC day for the whole deployment, also checked by the send job; once
 *   spent nothing is sent until the next day, and `onBudgetSpent` is told once (the alert).
 * Every limit is a fixed window (see `Counters.increment`); 0 turns one off. When the counters
 * cannot be reached every check throws `CountersUnavailableError`: nothing is sent unchecked.
 */
export interface SmsLimits {
  perPhoneMinute: number
  perPhoneHour: number
  perPhoneDay: number
  perIpHour: number
  perDeviceHour: number
  dailyBudget: number
}

/** Why a send was refused (for the log; never told to the client). */
export type SmsRefusal = 'phone-minute' | 'phone-hour' | 'phone-day' | 'budget'

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
/** A device id is the client's own label: bounded and plain, or it is ignored. */
const DEVICE_ID = /^[A-Za-z0-9._:-]{1,128}$/

export class SmsLimiter {
  constructor(
    private readonly counters: Counters,
    private readonly limits: SmsLimits,
    private readonly onBudgetSpent: (day: string, budget: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Counts one code request from `ip` (and `deviceId`, when it is a plausible id); returns the
   * seconds until the client may ask again when it is over a limit, else 0.
   */
  async admitClient(ip: string, deviceId: string | undefined): Promise<number> {
    const checks: [string, number][] = [[`sms:ip:${ipBucket(ip)}`, this.limits.perIpHour]]
    if (deviceId !== undefined && DEVICE_ID.test(deviceId)) checks.push([`sms:dev:${deviceId}`, this.limits.perDeviceHour])
    for (const [key, limit] of checks) {
      if (limit <= 0) continue
      const state = await this.counters.increment(key, HOUR)
      if (state.count > limit) return Math.max(1, Math.ceil(state.ttlMs / 1000))
    }
    return 0
  }

  /**
   * Takes one send to `phone` (E.164) against its windows and the daily budget: undefined when
   * it may be sent, else why not. Call it once per request; a retried send calls `spend` instead.
   */
  async admitSend(phone: string): Promise<SmsRefusal | undefined> {
    const windows: [SmsRefusal, number, number][] = [
      ['phone-minute', this.limits.perPhoneMinute, MINUTE],
      ['phone-hour', this.limits.perPhoneHour, HOUR],
      ['phone-day', this.limits.perPhoneDay, DAY],
    ]
    for (const [reason, limit, ms] of windows) {
      if (limit <= 0) continue
      // Counted before the next window, so a number refused by one never spends the others.
      const state = await this.counters.increment(`sms:phone:${ms}:${phone}`, ms)
      if (state.count > limit) return reason
    }
    return (await this.spend()) ? undefined : 'budget'
  }

  /** Takes one SMS from today's budget (every attempt to send costs one); false once it is spent. */
  async spend(): Promise<boolean> {
    const budget = this.limits.dailyBudget
    if (budget <= 0) return true
    const now = this.now()
    const day = new Date(now).toISOString().slice(0, 10)
    // Kept an hour past the day's end, so a clock a little behind still counts into the same day.
    const state = await this.counters.increment(`sms:budget:${day}`, DAY - (now % DAY) + HOUR)
    if (state.count === budget + 1) this.onBudgetSpent(day, budget)
    return state.count <= budget
  }
}
