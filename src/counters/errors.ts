/**
 * The counters port's one failure a request can meet: the shared store cannot be reached.
 *
 * Counters guard security (login throttling, nonces, OTP attempts), so an engine that cannot
 * count fails closed: it throws this instead of answering "not counted yet", and the HTTP layer
 * answers 503 (`ApiError('unavailable')`) rather than let an attacker through unthrottled.
 */
export class CountersUnavailableError extends Error {
  constructor(message = 'counters: the counters store is unavailable', cause?: unknown) {
    super(message, { cause })
    this.name = 'CountersUnavailableError'
  }
}
