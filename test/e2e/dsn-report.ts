// Reads a DSN with a real parser, Python's email package, as RFC 3464 and RFC 6522 define it: a
// multipart/report whose second part is message/delivery-status (one block of fields for the
// message, then one per recipient) and whose third returns the message or its headers.
import { execFileSync } from 'node:child_process'

export interface DsnReport {
  /** `multipart/report`, and its report-type parameter. */
  readonly contentType: string
  readonly reportType: string
  /** The content types of its parts, in order. */
  readonly parts: readonly string[]
  readonly headers: Readonly<Record<string, string>>
  /** The human-readable first part, decoded. */
  readonly explanation: string
  /** The per-message fields: Reporting-MTA, Original-Envelope-Id, Arrival-Date ... */
  readonly perMessage: Readonly<Record<string, string>>
  /** The per-recipient fields, one block per recipient. */
  readonly recipients: readonly Readonly<Record<string, string>>[]
  /** The third part decoded: the returned headers, or the returned message. */
  readonly returned: string
}

const PARSER = `
import json, sys
from email import message_from_binary_file, policy
msg = message_from_binary_file(sys.stdin.buffer, policy=policy.default)
parts = list(msg.iter_parts())
fields = lambda block: {key: str(value) for key, value in block.items()}
status = parts[1].get_payload()
returned = parts[2]
if returned.get_content_type() == 'message/rfc822':
    text = returned.get_payload()[0].as_bytes(policy=policy.SMTP).decode('utf-8', 'replace')
else:
    text = returned.get_content()
print(json.dumps({
    'contentType': msg.get_content_type(),
    'reportType': msg.get_param('report-type'),
    'parts': [part.get_content_type() for part in parts],
    'headers': {key: str(msg[key]) for key in ['From', 'To', 'Subject', 'Auto-Submitted', 'In-Reply-To'] if msg[key] is not None},
    'explanation': parts[0].get_content(),
    'perMessage': fields(status[0]),
    'recipients': [fields(block) for block in status[1:]],
    'returned': text,
}))
`

export function parseDsn(message: Buffer): DsnReport {
  return JSON.parse(execFileSync('python3', ['-c', PARSER], { input: message, encoding: 'utf8' })) as DsnReport
}
