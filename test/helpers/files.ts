/** Files for upload tests: multipart bodies with binary parts, real images, a PNG bomb. */
import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'
import type { FileStore } from '../../src/files/files.ts'

export interface FilePart {
  name: string
  /** A text field's value. */
  value?: string
  file?: { filename: string; data: Buffer; type?: string }
}

/** A multipart/form-data body (Buffer, so binary parts survive). */
export function formData(parts: FilePart[]): { payload: Buffer; contentType: string } {
  const boundary = `----plinthfiles${randomBytes(8).toString('hex')}`
  const chunks: Buffer[] = []
  for (const p of parts) {
    if (p.file) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.file.filename}"\r\nContent-Type: ${p.file.type ?? 'application/octet-stream'}\r\n\r\n`, 'latin1'))
      chunks.push(p.file.data, Buffer.from('\r\n'))
    } else {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"\r\n\r\n${p.value ?? ''}\r\n`))
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}

/** A real PNG of `width` x `height` pixels. */
export async function png(width = 300, height = 200): Promise<Buffer> {
  const { default: sharp } = await import('sharp')
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer()
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}

/** A small, valid-looking PNG whose header claims `side` x `side` pixels (an image bomb). */
export function pngBomb(side = 50_000): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(side, 0)
  ihdr.writeUInt32BE(side, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), chunk('IEND', Buffer.alloc(0))])
}

/** Every key in the store, in order. */
export async function storedKeys(store: FileStore, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for await (const o of store.list(prefix)) out.push(o.key)
  return out
}
