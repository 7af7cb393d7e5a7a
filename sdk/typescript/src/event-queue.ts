/** An event waiting to be sent: serialized once, when recorded, so every retry sends the same bytes. */
export interface QueuedEvent {
  /** Order of recording, from 1. */
  seq: number
  id: string
  type: string
  json: string
  /** UTF-8 bytes of `json`. */
  bytes: number
}

/** `{"events":[` and `]}` around the events of a request body. */
export const BODY_FRAME_BYTES = 13

/** First-in first-out, O(1) at both ends, counting the bytes it holds. */
export class EventQueue {
  private items: Array<QueuedEvent | undefined> = []
  private head = 0
  bytes = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(event: QueuedEvent): void {
    this.items.push(event)
    this.bytes += event.bytes
  }

  peek(): QueuedEvent | undefined {
    return this.items[this.head]
  }

  shift(): QueuedEvent | undefined {
    const event = this.items[this.head]
    if (!event) return undefined
    this.items[this.head] = undefined
    this.head++
    this.bytes -= event.bytes
    // Reclaim the consumed front now and then, so a long-lived queue does not grow without end.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return event
  }

  /**
   * The oldest events that fit one request: at most `maxEvents`, and a body of at most `maxBytes`
   * unless the first event alone is larger (it then goes alone). Never empty unless the queue is.
   */
  take(maxEvents: number, maxBytes: number): QueuedEvent[] {
    const batch: QueuedEvent[] = []
    let body = BODY_FRAME_BYTES
    for (let next = this.peek(); next && batch.length < maxEvents; next = this.peek()) {
      const added = next.bytes + (batch.length > 0 ? 1 : 0)
      if (batch.length > 0 && body + added > maxBytes) break
      batch.push(this.shift()!)
      body += added
    }
    return batch
  }

  clear(): QueuedEvent[] {
    const all = this.items.slice(this.head) as QueuedEvent[]
    this.items = []
    this.head = 0
    this.bytes = 0
    return all
  }
}

/** The request body for `events`, as the server reads it. */
export function batchBody(events: readonly QueuedEvent[]): string {
  return `{"events":[${events.map((e) => e.json).join(',')}]}`
}
