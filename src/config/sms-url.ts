import { ConfigError } from './errors.ts'
import { engineCredentials, engineEndpoint, splitEngineUrl } from './engine-url.ts'

/**
 * The `sms` URL (`PLINTH_SMS`): its scheme picks the provider, the user and password of the URL
 * are the provider's credentials (URL-encoded), the query its settings:
 *
 * - `console://`: the message goes to the log (the default).
 * - `aliyun://ACCESS_KEY_ID:ACCESS_KEY_SECRET@?sign=SIGN_NAME&template=SMS_123`
 *   (`param=code`: the template's variable; `region=cn-hangzhou`).
 * - `yuntongxun://ACCOUNT_SID:AUTH_TOKEN@?app=APP_ID&template=1`.
 * - `tencent://SECRET_ID:SECRET_KEY@?app=SDK_APP_ID&sign=SIGN_NAME&template=123` (`region=ap-guangzhou`).
 * - `twilio://ACCOUNT_SID:AUTH_TOKEN@?from=%2B15005550006` (or `service=MG...`, a messaging service).
 *
 * Every provider takes `endpoint=https://...` (a full base URL; tests point it at a local
 * server), and a host in the URL is the same as `endpoint=https://HOST`.
 */
export interface ConsoleSmsTarget {
  engine: 'console'
}
export interface AliyunSmsTarget {
  engine: 'aliyun'
  accessKeyId: string
  accessKeySecret: string
  sign: string
  template: string
  param: string
  region: string
  endpoint: string
}
export interface YuntongxunSmsTarget {
  engine: 'yuntongxun'
  accountSid: string
  authToken: string
  appId: string
  template: string
  endpoint: string
}
export interface TencentSmsTarget {
  engine: 'tencent'
  secretId: string
  secretKey: string
  appId: string
  /** Required for mainland China numbers; international ones may go without. */
  sign?: string
  template: string
  region: string
  endpoint: string
}
export interface TwilioSmsTarget {
  engine: 'twilio'
  accountSid: string
  authToken: string
  from?: string
  service?: string
  endpoint: string
}
export type SmsTarget = ConsoleSmsTarget | AliyunSmsTarget | YuntongxunSmsTarget | TencentSmsTarget | TwilioSmsTarget

const defaultEndpoints = {
  aliyun: 'https://dysmsapi.aliyuncs.com',
  yuntongxun: 'https://app.cloopen.com:8883',
  tencent: 'https://sms.tencentcloudapi.com',
  twilio: 'https://api.twilio.com',
} as const

/** Which parameters each provider takes; `true` marks the required ones. */
const knownParams = {
  console: {},
  aliyun: { sign: true, template: true, param: false, region: false, endpoint: false },
  yuntongxun: { app: true, template: true, endpoint: false },
  tencent: { app: true, sign: false, template: true, region: false, endpoint: false },
  twilio: { from: false, service: false, endpoint: false },
} as const satisfies Record<SmsTarget['engine'], Record<string, boolean>>

/**
 * Parses the `sms` URL. Ours rather than `URL`'s: `aliyun://KEY:SECRET@?...` has credentials and
 * no host, which WHATWG URL refuses. Messages never show the credentials.
 */
export function parseSmsUrl(value: string, key = 'sms'): SmsTarget {
  const url = splitEngineUrl(value, key, knownParams)
  const engine = url.scheme as SmsTarget['engine']
  const { scheme, rawUser, host, params: got } = url
  if (engine === 'console') {
    if (rawUser !== undefined || host) throw new ConfigError(`config: ${key}: console:// takes no credentials or host`)
    return { engine }
  }
  const { user, pass } = engineCredentials(url, key)
  if (!user || !pass) throw new ConfigError(`config: ${key}: ${scheme}:// needs credentials, like ${scheme}://ID:KEY@?...`)
  const endpoint = engineEndpoint(got.endpoint ?? (host ? `https://${host}` : defaultEndpoints[engine]), key)
  switch (engine) {
    case 'aliyun':
      return { engine, accessKeyId: user, accessKeySecret: pass, sign: got.sign!, template: got.template!, param: got.param ?? 'code', region: got.region ?? 'cn-hangzhou', endpoint }
    case 'yuntongxun':
      return { engine, accountSid: user, authToken: pass, appId: got.app!, template: got.template!, endpoint }
    case 'tencent': {
      const t: TencentSmsTarget = { engine, secretId: user, secretKey: pass, appId: got.app!, template: got.template!, region: got.region ?? 'ap-guangzhou', endpoint }
      if (got.sign) t.sign = got.sign
      return t
    }
    case 'twilio': {
      if (!got.from === !got.service) throw new ConfigError(`config: ${key}: twilio:// needs one of from= (a number) or service= (a messaging service)`)
      const t: TwilioSmsTarget = { engine, accountSid: user, authToken: pass, endpoint }
      if (got.from) t.from = got.from
      if (got.service) t.service = got.service
      return t
    }
  }
}
