/** Kafka headers ingest writes on every event message. */

/** The HTTP request that carried the event, for log correlation across services. */
export const REQUEST_ID_HEADER = 'x-request-id'

/** The event's type, so a processor can skip messages it never reads without decoding them. */
export const EVENT_TYPE_HEADER = 'x-sluice-event-type'
