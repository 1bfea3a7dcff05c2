/** Defaults of the subnet node (SPEC §4, §5). */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/31330']
/**
 * libp2p allows 5 inbound connections per second per IP by default; a bootnode behind NAT or
 * next to many nodes on one host needs far more (SPEC §5, connection limits).
 */
export const DEFAULT_INBOUND_CONNECTION_THRESHOLD = 100
export const DEFAULT_MAX_CONNECTIONS = 1000
export const DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS = 100
/**
 * Concurrent inbound connections from one IPv4 address or IPv6 /64 (SPEC §4
 * `--max-connections-per-ip`, issue 12 item 1). An honest node holds one or two; 16 leaves room
 * for several nodes behind one NAT while one host can take at most 16 of the
 * {@link DEFAULT_MAX_CONNECTIONS}.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 16
/**
 * Concurrent inbound connections from one peer id (SPEC §5, fixed). One is the norm; two happen
 * when both sides dial at once, and a reconnect may overlap the connection being closed.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_PEER = 4
/** Refused connections are logged at most once per this window, with the count folded into it. */
export const CONNECTION_REFUSAL_LOG_WINDOW_MS = 10_000
/** First re-dial of the bootstrap list while the routing table is empty; doubles up to the max. */
export const BOOTSTRAP_RETRY_MIN_MS = 500
export const BOOTSTRAP_RETRY_MAX_MS = 30_000
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 10_000
/** Protocol IDs per subnet (SPEC §5). */
export const kadProtocol = (subnetId: string): string => `/subnet/${subnetId}/kad/1.0.0`
/** Subnet ids become part of protocol ids and datastore keys: keep them to a safe alphabet. */
export const SUBNET_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/
/** {@link SUBNET_ID_PATTERN} in words, for help text and messages. */
export const SUBNET_ID_RULE = '1 to 128 characters from A-Z a-z 0-9 . _ -'
/**
 * In the template profiles the subnet id is the chain's `subnet_id`, a positive u32 that the
 * template's messages carry as an integer (issue 11).
 */
const TEMPLATE_SUBNET_ID_PATTERN = /^[1-9][0-9]{0,9}$/
export const MAX_TEMPLATE_SUBNET_ID = 2 ** 32 - 1
/** {@link TEMPLATE_SUBNET_ID_PATTERN} in words, for help text and messages. */
export const TEMPLATE_SUBNET_ID_RULE = `the chain's subnet id, an integer from 1 to ${MAX_TEMPLATE_SUBNET_ID}`
/**
 * The template's subnet id as a number, or undefined when `subnetId` is not one: the one
 * derivation of the chain's u32, for the profile check and `--chain-rpc` (config), the subnet
 * node, and the template's publisher and source ({@link requireTemplateSubnetId}).
 */
export function templateSubnetId (subnetId: string | number): number | undefined {
  const n = typeof subnetId === 'number' ? subnetId : TEMPLATE_SUBNET_ID_PATTERN.test(subnetId) ? Number(subnetId) : NaN
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_TEMPLATE_SUBNET_ID ? n : undefined
}

/** templateSubnetId, or a TypeError naming the value (for library callers; the config checks flags first). */
export function requireTemplateSubnetId (subnetId: string | number): number {
  const n = templateSubnetId(subnetId)
  if (n === undefined) throw new TypeError(`subnet id ${JSON.stringify(subnetId)} is not a template subnet id (${TEMPLATE_SUBNET_ID_RULE})`)
  return n
}
/**
 * Which subnets' protocols the node speaks (SPEC §4 `--profile`): `native`, this project's own
 * (`/subnet/<id>/kad/1.0.0` + heartbeat push); `template`, the Hypertensor subnet template's
 * (Noise also as `/pos-transport/1.0.0`, kad-dht on `/ipfs/kad/1.0.0`, gossipsub `/meshsub/2.0.0`);
 * `both`, the two at once.
 */
export const PROFILES = ['native', 'template', 'both'] as const
export type Profile = typeof PROFILES[number]
/** Gossipsub topics of the subnet template (template `subnet/utils/pubsub/topics.py`): heartbeats, and peer state as plain JSON or signed DAG nodes. */
export const TEMPLATE_HEARTBEAT_TOPIC = 'heartbeat'
export const TEMPLATE_PEER_STATE_TOPIC = 'peer_state'
export const TEMPLATE_TOPICS = [TEMPLATE_HEARTBEAT_TOPIC, TEMPLATE_PEER_STATE_TOPIC] as const

/**
 * Addresses tried per dial of one peer (libp2p's default is 25). A peer announces what it likes
 * (issue 12: fake members announced 200 each), and a DHT query dials the closest peers it knows,
 * departed ones included: every address tried costs a socket and a peer-store rewrite of the whole
 * address list. An honest node has a few (IPv4, IPv6, a transport or two); get_peers_info lists 16.
 */
export const MAX_PEER_ADDRS_TO_DIAL = 8
/**
 * Addresses the peer store keeps per remote peer (address-cap.ts): an honest node has a few, and
 * every use of a peer (a DHT answer, a dial, a collector scan) decodes its whole stored list.
 */
export const MAX_STORED_ADDRS_PER_PEER = 16
