/**
 * The SMS engines against a local HTTP server standing in for each provider. The server checks
 * what the engine really sends: it recomputes each signature with its own code, from the
 * provider's documented algorithm (not the engine's helpers), and checks the fields. The providers'
 * published worked examples pin the signing functions as fixed vectors. Error replies and
 * malformed replies must be errors, never a success.
 */
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, beforeEach, describe, test } from 'node:test'
import { parseSmsUrl, type AliyunSmsTarget, type TencentSmsTarget, type TwilioSmsTarget, type YuntongxunSmsTarget } from '../../src/config/sms-url.ts'
import { aliyunSms, rpcSignature } from '../../src/sms/aliyun.ts'
import { consoleSms } from '../../src/sms/console.ts'
import { SmsError, type SmsSender } from '../../src/sms/sms.ts'
import { tc3Authorization, tencentSms } from '../../src/sms/tencent.ts'
import { twilioSms } from '../../src/sms/twilio.ts'
import { yuntongxunSms } from '../../src/sms/yuntongxun.ts'
import { unusedPort } from '../helpers/redis.ts'

interface Seen {
  method: string
  url: URL
  headers: IncomingMessage['headers']
  body: string
}

/** The stand-in provider: records each request, answers with `reply` (status, raw body). */
let server: Server
let base: string
const seen: Seen[] = []
let reply: { status: number; body: string } = { status: 200, body: '{}' }

before(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString('utf8')))
    req.on('end', () => {
      seen.push({ method: req.method!, url: new URL(req.url!, base), headers: req.headers, body })
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => new Promise<void>((resolve) => server.close(() => resolve())))
beforeEach(() => {
  seen.length = 0
})

const NOW = new Date('2026-03-01T16:30:05Z')
const clock = () => NOW
const msg = { to: '+8613800138000', code: '402913', minutes: 5 }

async function rejects(sender: SmsSender, status: number, body: string, pattern: RegExp): Promise<void> {
  reply = { status, body }
  await assert.rejects(sender.send(msg), (err: unknown) => err instanceof SmsError && pattern.test(err.message))
}

// ---- Alibaba Cloud ---------------------------------------------------------------------------

/** RFC 3986 per Alibaba's rules, written independently: unreserved kept, the rest %XX (UTF-8). */
function aliEncode(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('')
}

describe('sms: aliyun', () => {
  test('the signing function reproduces Alibaba Cloud\'s published RPC examples', () => {
    // The RPC signature doc's DescribeRegions example (AccessKey testid / testsecret).
    const doc = rpcSignature('GET', { AccessKeyId: 'testid', Action: 'DescribeRegions', Format: 'XML', SignatureMethod: 'HMAC-SHA1', SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf', SignatureVersion: '1.0', Timestamp: '2016-02-23T12:46:24Z', Version: '2014-05-26' }, 'testsecret')
    assert.equal(doc.signature, 'OLeaidS1JvxuMvnyHOwuJ+uX5qY=')
    // The SMS signature doc's string to sign (its published signature was made over the unmasked number, so only the string is a vector).
    const sms = rpcSignature('GET', { AccessKeyId: 'testid', Action: 'SendMessageToGlobe', Format: 'XML', From: 'Alicloud', Message: 'Hello', RegionId: 'ap-southeast-1', SignatureMethod: 'HMAC-SHA1', SignatureNonce: '57acef20-c1d8-11eb-8c08-db81fda24dcc', SignatureVersion: '1.0', Timestamp: '2021-05-31T06:20:49Z', To: '861245567****', Version: '2018-05-01' }, 'testsecret')
    assert.equal(sms.stringToSign, 'GET&%2F&AccessKeyId%3Dtestid%26Action%3DSendMessageToGlobe%26Format%3DXML%26From%3DAlicloud%26Message%3DHello%26RegionId%3Dap-southeast-1%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D57acef20-c1d8-11eb-8c08-db81fda24dcc%26SignatureVersion%3D1.0%26Timestamp%3D2021-05-31T06%253A20%253A49Z%26To%3D861245567%252A%252A%252A%252A%26Version%3D2018-05-01')
  })

  const target = (): AliyunSmsTarget => parseSmsUrl(`aliyun://LTAI5t:s3cr%2Bet!@?sign=${encodeURIComponent('我的应用')}&template=SMS_154950909&endpoint=${encodeURIComponent(base)}`) as AliyunSmsTarget

  test('sends SendSms, signed as the RPC signature says, with the template filled', async () => {
    reply = { status: 200, body: '{"Message":"OK","RequestId":"F655A8D5","Code":"OK","BizId":"900619746936498440^0"}' }
    await aliyunSms(target(), clock).send(msg)
    assert.equal(seen.length, 1)
    const { method, url } = seen[0]!
    assert.equal(method, 'GET')
    assert.equal(url.pathname, '/')
    const q = Object.fromEntries(url.searchParams)
    const { Signature, ...rest } = q
    const canonical = Object.keys(rest).sort().map((k) => `${aliEncode(k)}=${aliEncode(rest[k]!)}`).join('&')
    const expected = createHmac('sha1', 's3cr+et!&').update(`GET&%2F&${aliEncode(canonical)}`).digest('base64')
    assert.equal(Signature, expected)
    assert.deepEqual(
      { ...rest, SignatureNonce: undefined },
      {
        AccessKeyId: 'LTAI5t', Action: 'SendSms', Format: 'JSON', PhoneNumbers: '13800138000', RegionId: 'cn-hangzhou', SignName: '我的应用',
        SignatureMethod: 'HMAC-SHA1', SignatureNonce: undefined, SignatureVersion: '1.0', TemplateCode: 'SMS_154950909',
        TemplateParam: '{"code":"402913"}', Timestamp: '2026-03-01T16:30:05Z', Version: '2017-05-25',
      },
    )
    assert.match(q.SignatureNonce!, /^[0-9a-f-]{36}$/)
    await aliyunSms(target(), clock).send({ ...msg, to: '+85261234567' })
    assert.equal(seen[1]!.url.searchParams.get('PhoneNumbers'), '85261234567', 'outside mainland China: country code + number')
    assert.notEqual(seen[1]!.url.searchParams.get('SignatureNonce'), q.SignatureNonce, 'a fresh nonce each time')
  })

  test('an error Code, an HTTP error, or a malformed reply is an error', async () => {
    const s = aliyunSms(target(), clock)
    await rejects(s, 200, '{"Message":"触发分钟级流控","RequestId":"x","Code":"isv.BUSINESS_LIMIT_CONTROL"}', /isv\.BUSINESS_LIMIT_CONTROL/)
    await rejects(s, 400, '{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched"}', /SignatureDoesNotMatch/)
    await rejects(s, 200, '<Error>nope</Error>', /not JSON/)
    await rejects(s, 200, '{"RequestId":"x"}', /malformed/)
    await rejects(s, 200, '[]', /malformed/)
    await rejects(s, 503, '{"Code":"OK"}', /refused \(HTTP 503\)/)
  })
})

// ---- Ronglian Yuntongxun --------------------------------------------------------------------

describe('sms: yuntongxun', () => {
  const target = (): YuntongxunSmsTarget => parseSmsUrl(`yuntongxun://8a216da8:0a1b2c3d@?app=8aaf0708&template=1&endpoint=${encodeURIComponent(base)}`) as YuntongxunSmsTarget

  test('sends a template SMS with SigParameter and Authorization as documented', async () => {
    reply = { status: 200, body: '{"statusCode":"000000","templateSMS":{"smsMessageSid":"ff8080813c373cab013c94a0b5770ee1","dateCreated":"20260302003005"}}' }
    await yuntongxunSms(target(), clock).send(msg)
    const { method, url, headers, body } = seen[0]!
    assert.equal(method, 'POST')
    assert.equal(url.pathname, '/2013-12-26/Accounts/8a216da8/SMS/TemplateSMS')
    const [sid, ts] = Buffer.from(String(headers.authorization), 'base64').toString('utf8').split(':')
    assert.equal(sid, '8a216da8')
    assert.equal(ts, '20260302003005', 'yyyyMMddHHmmss, Beijing time')
    assert.equal(url.searchParams.get('sig'), createHash('md5').update(`8a216da80a1b2c3d${ts}`).digest('hex').toUpperCase())
    assert.match(String(headers['content-type']), /^application\/json;charset=utf-8$/i)
    assert.equal(headers.accept, 'application/json')
    assert.deepEqual(JSON.parse(body), { to: '13800138000', appId: '8aaf0708', templateId: '1', datas: ['402913', '5'] })
    await yuntongxunSms(target(), clock).send({ ...msg, to: '+14155552671' })
    assert.equal(JSON.parse(seen[1]!.body).to, '0014155552671', 'international: 00 + country code + number')
  })

  test('an error statusCode or a malformed reply is an error', async () => {
    const s = yuntongxunSms(target(), clock)
    await rejects(s, 200, '{"statusCode":"160040","statusMsg":"验证码超出同模板同号天发送上限"}', /160040/)
    await rejects(s, 200, '{"templateSMS":{}}', /malformed/)
    await rejects(s, 500, 'Internal Server Error', /not JSON/)
    await rejects(s, 200, '{"statusCode":0}', /malformed/)
  })
})

// ---- Tencent Cloud ---------------------------------------------------------------------------

describe('sms: tencent', () => {
  test('the signing function reproduces Tencent Cloud\'s published TC3-HMAC-SHA256 example', () => {
    const auth = tc3Authorization({
      secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******', secretKey: 'Gu5t9xGARNpq86cd98joQYCN3*******', service: 'cvm', host: 'cvm.tencentcloudapi.com', timestamp: 1551113065,
      payload: '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}',
    })
    assert.equal(auth, 'TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c')
  })

  const target = (): TencentSmsTarget => parseSmsUrl(`tencent://AKIDtest:SKtest@?app=1400006666&sign=${encodeURIComponent('腾讯云')}&template=449739&endpoint=${encodeURIComponent(base)}`) as TencentSmsTarget

  /** TC3 recomputed from what arrived: the headers it signs, the body, the secret. */
  function tc3(headers: IncomingMessage['headers'], body: string, secretKey: string): string {
    const ts = Number(headers['x-tc-timestamp'])
    const day = new Date(ts * 1000).toISOString().slice(0, 10)
    const h = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')
    const request = ['POST', '/', '', `content-type:${headers['content-type']}\nhost:${headers.host}\n`, 'content-type;host', h(body)].join('\n')
    let key: Buffer = createHmac('sha256', `TC3${secretKey}`).update(day).digest()
    for (const part of ['sms', 'tc3_request']) key = createHmac('sha256', key).update(part).digest()
    const sig = createHmac('sha256', key).update(['TC3-HMAC-SHA256', String(ts), `${day}/sms/tc3_request`, h(request)].join('\n')).digest('hex')
    return `TC3-HMAC-SHA256 Credential=AKIDtest/${day}/sms/tc3_request, SignedHeaders=content-type;host, Signature=${sig}`
  }

  test('sends SendSms signed with TC3-HMAC-SHA256 over the headers it names', async () => {
    reply = { status: 200, body: '{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6"}}' }
    await tencentSms(target(), clock).send(msg)
    const { method, url, headers, body } = seen[0]!
    assert.equal(method, 'POST')
    assert.equal(url.pathname, '/')
    assert.equal(headers['x-tc-action'], 'SendSms')
    assert.equal(headers['x-tc-version'], '2021-01-11')
    assert.equal(headers['x-tc-region'], 'ap-guangzhou')
    assert.equal(headers['x-tc-timestamp'], String(NOW.getTime() / 1000))
    assert.equal(headers.host, new URL(base).host)
    assert.equal(headers.authorization, tc3(headers, body, 'SKtest'))
    assert.deepEqual(JSON.parse(body), { PhoneNumberSet: ['+8613800138000'], SmsSdkAppId: '1400006666', TemplateId: '449739', TemplateParamSet: ['402913'], SignName: '腾讯云' })
  })

  test('Response.Error, a failed send status, or a malformed reply is an error', async () => {
    const s = tencentSms(target(), clock)
    await rejects(s, 200, '{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated."},"RequestId":"x"}}', /AuthFailure\.SignatureFailure/)
    await rejects(s, 200, '{"Response":{"SendStatusSet":[{"Code":"LimitExceeded.PhoneNumberDailyLimit","Message":"daily limit"}],"RequestId":"x"}}', /PhoneNumberDailyLimit/)
    await rejects(s, 200, '{"Response":{"RequestId":"x"}}', /malformed/)
    await rejects(s, 200, '{"Response":{"SendStatusSet":[]}}', /malformed/)
    await rejects(s, 200, 'ok', /not JSON/)
  })
})

// ---- Twilio ----------------------------------------------------------------------------------

describe('sms: twilio', () => {
  const target = (q = 'from=%2B15005550006'): TwilioSmsTarget => parseSmsUrl(`twilio://AC123:tok3n@?${q}&endpoint=${encodeURIComponent(base)}`) as TwilioSmsTarget

  test('posts a form to the Messages API with basic auth', async () => {
    reply = { status: 201, body: '{"sid":"SM1f0e8ae6ade43cb3c0ce4525424e404f","status":"queued","to":"+8613800138000"}' }
    await twilioSms(target()).send(msg)
    const { method, url, headers, body } = seen[0]!
    assert.equal(method, 'POST')
    assert.equal(url.pathname, '/2010-04-01/Accounts/AC123/Messages.json')
    assert.equal(headers.authorization, `Basic ${Buffer.from('AC123:tok3n').toString('base64')}`)
    assert.equal(headers['content-type'], 'application/x-www-form-urlencoded')
    const form = Object.fromEntries(new URLSearchParams(body))
    assert.deepEqual(form, { To: '+8613800138000', Body: 'Your verification code is 402913. It expires in 5 minutes.', From: '+15005550006' })
    await twilioSms(target('service=MG9752274e9e519418a7406176694466fa')).send(msg)
    assert.equal(new URLSearchParams(seen[1]!.body).get('MessagingServiceSid'), 'MG9752274e9e519418a7406176694466fa')
  })

  test('an error reply, a failed message, or a malformed reply is an error', async () => {
    const s = twilioSms(target())
    await rejects(s, 400, '{"code":21211,"message":"The \'To\' number is not a valid phone number.","status":400}', /21211/)
    await rejects(s, 401, '{"code":20003,"message":"Authenticate","status":401}', /20003/)
    await rejects(s, 201, '{"sid":"SM1","status":"failed"}', /failed/)
    await rejects(s, 200, '{"sid":"SM1","status":"queued"}', /malformed/)
    await rejects(s, 201, '{"status":"queued"}', /malformed/)
    await rejects(s, 201, '', /not JSON/)
  })
})

describe('sms: every engine', () => {
  test('an unreachable provider is an error', async () => {
    const port = await unusedPort()
    const t = parseSmsUrl(`twilio://AC1:t@?from=%2B1&endpoint=http://127.0.0.1:${port}`) as TwilioSmsTarget
    await assert.rejects(twilioSms(t).send(msg), (err: unknown) => err instanceof SmsError && /request failed/.test(err.message))
  })

  test('console writes the code to the log', async () => {
    const lines: { obj: unknown; msg: string }[] = []
    await consoleSms({ info: ((obj: unknown, m: string) => lines.push({ obj, msg: m })) as never }).send(msg)
    assert.match(lines[0]!.msg, /\+8613800138000: code 402913/)
  })
})

describe('sms: the PLINTH_SMS URL', () => {
  test('defaults, a host as the endpoint, and mistakes that name the key without the secret', () => {
    assert.deepEqual(parseSmsUrl('console://'), { engine: 'console' })
    const a = parseSmsUrl('aliyun://ID:SEC@dysmsapi.ap-southeast-1.aliyuncs.com?sign=S&template=T') as AliyunSmsTarget
    assert.equal(a.endpoint, 'https://dysmsapi.ap-southeast-1.aliyuncs.com')
    assert.equal((parseSmsUrl('tencent://I:K@?app=1&template=2') as TencentSmsTarget).endpoint, 'https://sms.tencentcloudapi.com')
    for (const [url, pattern] of [
      ['sms77://x', /sms: unsupported scheme "sms77"/],
      ['aliyun://ID:SECRET@?template=T', /aliyun:\/\/ needs sign=/],
      ['aliyun://?sign=S&template=T', /needs credentials/],
      ['aliyun://ID:SECRET@?sign=S&template=T&tpl=1', /unknown parameter "tpl"/],
      ['twilio://AC:SECRET@?from=%2B1&service=MG1', /one of from= .* or service=/],
      ['twilio://AC:SECRET@?from=%2B1&endpoint=ftp://x', /endpoint must be http/],
      ['console://u:SECRET@', /takes no credentials/],
    ] as const) {
      assert.throws(() => parseSmsUrl(url), (err: Error) => pattern.test(err.message) && !err.message.includes('SECRET'), url)
    }
  })
})
