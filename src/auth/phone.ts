import type { FieldError } from '../errors.ts'

/**
 * Phone numbers as Plinth keeps them: E.164 (`+8613800138000`), one spelling per number, so the
 * same phone typed as `138 0013 8000`, `+86 138-0013-8000` or `008613800138000` is one account and
 * one set of send limits. Parsed by awesome-phonenumber (Google's libphonenumber metadata),
 * imported on first use: it is large, and most servers never read a phone number.
 */
export interface PhoneRules {
  /** The region (`CN`) of numbers written without `+`; empty: they must start with `+` (or `00`). */
  defaultRegion: string
  /** Regions codes may go to; empty: any. */
  countries: readonly string[]
}

export type PhoneResult = { ok: true; e164: string; region: string } | { ok: false; error: FieldError }

/** Longest input looked at: the longest E.164 number is 15 digits, spaced and punctuated. */
const MAX_INPUT = 40

let lib: Promise<typeof import('awesome-phonenumber')> | undefined

/**
 * The E.164 form of `input`, or the field error to answer with. Only numbers that can take an SMS
 * pass: valid for their region and mobile (or a region where mobile and fixed numbers look alike),
 * in a region `rules.countries` allows.
 */
export async function normalizePhone(input: unknown, rules: PhoneRules): Promise<PhoneResult> {
  const invalid = (message: string): PhoneResult => ({ ok: false, error: { code: 'validation_invalid_phone', message } })
  if (typeof input !== 'string' || !input.trim()) return { ok: false, error: { code: 'validation_required', message: 'Cannot be blank.' } }
  if (input.length > MAX_INPUT || !/^[+0-9 ()./-]+$/.test(input)) return invalid('Must be a phone number.')
  // `00` is the international prefix in most of the world (and in China): same as `+`.
  const text = input.trim().replace(/^00(?=[1-9])/, '+')
  if (!text.startsWith('+') && !rules.defaultRegion) return invalid('Must be a phone number in international form, starting with +.')
  const { parsePhoneNumber } = await (lib ??= import('awesome-phonenumber'))
  const parsed = parsePhoneNumber(text, text.startsWith('+') ? {} : { regionCode: rules.defaultRegion })
  if (!parsed.valid) return invalid('Must be a valid phone number.')
  if (!parsed.typeIsMobile) return invalid('Must be a mobile phone number.')
  if (rules.countries.length && !rules.countries.includes(parsed.regionCode)) return invalid('Codes cannot be sent to numbers of this country.')
  return { ok: true, e164: parsed.number.e164, region: parsed.regionCode }
}
