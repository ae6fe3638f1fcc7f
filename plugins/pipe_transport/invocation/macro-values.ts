// What each macro means in one transaction, for argv words and environment values alike.
import type { Recipient } from '../routing/recipient.js'
import type { Macro, Template } from '../settings/vocabulary.js'
import type { Envelope } from './envelope.js'

export interface ExpansionContext {
  readonly envelope: Envelope
  readonly instance: string
}

/** One template's text, with the recipient macros taken from `recipient`. */
export function expandTemplate(
  template: Template,
  context: ExpansionContext,
  recipient: Recipient | undefined,
): string {
  return template.map((part) => ('macro' in part ? macroValue(part.macro, context, recipient) : part.literal)).join('')
}

/** A macro's value in this transaction; the recipient macros are empty without a recipient. */
export function macroValue(macro: Macro, context: ExpansionContext, recipient: Recipient | undefined): string {
  const { envelope } = context
  switch (macro) {
    case 'sender':
      return envelope.sender
    case 'recipient':
      return recipient?.address ?? ''
    case 'user':
      return recipient?.user ?? ''
    case 'extension':
      return recipient?.extension ?? ''
    case 'mailbox':
      return recipient?.mailbox ?? ''
    case 'domain':
      return recipient?.domain ?? ''
    case 'original_recipient':
      return recipient?.originalRecipient ?? ''
    case 'route_data':
      return recipient?.routeData ?? ''
    case 'queue_id':
      return envelope.queueId
    case 'client_address':
      return envelope.clientAddress
    case 'client_helo':
      return envelope.clientHelo
    case 'sasl_username':
      return envelope.saslUsername
    case 'size':
      return envelope.size === undefined ? '' : String(envelope.size)
    case 'envid':
      return envelope.envid
    case 'delivery_id':
      return recipient === undefined ? '' : (envelope.deliveryIds.get(recipient) ?? '')
    case 'instance':
      return context.instance
  }
}
