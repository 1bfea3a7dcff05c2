import test from 'ava'
import { ConfigError } from '../../src/errors.js'
import {
  TEMPLATE_REJECT_REASONS, TemplateMessageRejectedError, parseTemplateHeartbeat, parseTemplatePeerState, templateRoleName,
  templateStateName
} from '../../src/template/index.js'
import type { TemplateRejectReason } from '../../src/template/index.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const opts = { subnetId: 1 }

// Exact bytes from issue 11 / the harness README (pydantic model_dump_json()).
const PEER_STATE = '{"uid":"271add8200ac8616bb7a0ed7ce65304d","epoch":2,"subnet_id":1,"subnet_node_id":1,"state":2,"role":0}'
const HEARTBEAT = '{"uid":"u","epoch":7,"subnet_id":1,"subnet_node_id":2}' // node.py --check vector

function rejects (t: import('ava').ExecutionContext, fn: () => unknown, reason: TemplateRejectReason): void {
  const err = t.throws(fn, { instanceOf: TemplateMessageRejectedError })
  t.is(err?.reason, reason)
  t.is(err?.name, 'TemplateMessageRejectedError')
}

test('parses the template peer_state vector', (t) => {
  t.deepEqual(parseTemplatePeerState(bytes(PEER_STATE), opts), {
    uid: '271add8200ac8616bb7a0ed7ce65304d', epoch: 2, subnetId: 1, subnetNodeId: 1, state: 'ONLINE', stateCode: 2, role: 'VALIDATOR', roleCode: 0
  })
})

test('parses the template heartbeat vector', (t) => {
  t.deepEqual(parseTemplateHeartbeat(bytes(HEARTBEAT), opts), { uid: 'u', epoch: 7, subnetId: 1, subnetNodeId: 2 })
  // A peer_state also satisfies the heartbeat model (extra fields ignored, as pydantic does).
  t.is(parseTemplateHeartbeat(bytes(PEER_STATE), opts).subnetNodeId, 1)
})

test('state and role mappings', (t) => {
  t.is(templateStateName(0), 'OFFLINE')
  t.is(templateStateName(1), 'JOINING')
  t.is(templateStateName(2), 'ONLINE')
  t.is(templateRoleName(0), 'VALIDATOR')
  t.is(templateRoleName(7), 'ROLE_7')
  const ps = parseTemplatePeerState(bytes('{"uid":"a","epoch":0,"subnet_id":1,"subnet_node_id":3,"state":0,"role":5,"extra":[1]}'), opts)
  t.is(ps.state, 'OFFLINE')
  t.is(ps.role, 'ROLE_5')
})

test('oversized is refused before parsing', (t) => {
  const big = `{"uid":"${'a'.repeat(1024)}","epoch":1,"subnet_id":1,"subnet_node_id":1}`
  rejects(t, () => parseTemplateHeartbeat(bytes(big), opts), 'oversized')
  rejects(t, () => parseTemplateHeartbeat(new Uint8Array(1025).fill(0x7b), opts), 'oversized') // not even JSON
})

test('malformed: not UTF-8, not JSON, not an object', (t) => {
  rejects(t, () => parseTemplateHeartbeat(Uint8Array.of(0xff, 0xfe), opts), 'malformed')
  rejects(t, () => parseTemplateHeartbeat(bytes('{"uid":'), opts), 'malformed')
  rejects(t, () => parseTemplateHeartbeat(bytes('[1,2]'), opts), 'malformed')
  rejects(t, () => parseTemplateHeartbeat(bytes('null'), opts), 'malformed')
  rejects(t, () => parseTemplatePeerState(bytes('"x"'), opts), 'malformed')
})

test('wrong_subnet', (t) => {
  rejects(t, () => parseTemplatePeerState(bytes(PEER_STATE.replace('"subnet_id":1', '"subnet_id":2')), opts), 'wrong_subnet')
  rejects(t, () => parseTemplateHeartbeat(bytes(HEARTBEAT), { subnetId: 9 }), 'wrong_subnet')
})

test('invalid_field: missing, mistyped, out of range', (t) => {
  const cases = [
    '{"epoch":7,"subnet_id":1,"subnet_node_id":2}',
    '{"uid":5,"epoch":7,"subnet_id":1,"subnet_node_id":2}',
    '{"uid":"u","epoch":"7","subnet_id":1,"subnet_node_id":2}',
    '{"uid":"u","epoch":-1,"subnet_id":1,"subnet_node_id":2}',
    '{"uid":"u","epoch":1.5,"subnet_id":1,"subnet_node_id":2}',
    '{"uid":"u","epoch":true,"subnet_id":1,"subnet_node_id":2}',
    '{"uid":"u","epoch":9007199254740993,"subnet_id":1,"subnet_node_id":2}',
    '{"uid":"u","epoch":7,"subnet_id":0,"subnet_node_id":2}',
    '{"uid":"u","epoch":7,"subnet_id":1,"subnet_node_id":0}',
    '{"uid":"u","epoch":7,"subnet_id":1}'
  ]
  for (const c of cases) rejects(t, () => parseTemplateHeartbeat(bytes(c), opts), 'invalid_field')
  for (const [i, bad] of [['"state":2', '"state":3'], ['"state":2', '"state":"2"'], ['"role":0', '"role":-1'], ['"role":0', '"role":"0"'], [',"role":0', '']] as const) {
    rejects(t, () => parseTemplatePeerState(bytes(PEER_STATE.replace(i, bad)), opts), 'invalid_field')
  }
})

test('every documented reason is in the set', (t) => {
  t.deepEqual([...TEMPLATE_REJECT_REASONS].slice(0, 4), ['oversized', 'malformed', 'wrong_subnet', 'invalid_field'])
})

test('the expected subnet id must be a positive integer', (t) => {
  t.throws(() => parseTemplateHeartbeat(bytes(HEARTBEAT), { subnetId: 0 }), { instanceOf: ConfigError })
  t.throws(() => parseTemplateHeartbeat(bytes(HEARTBEAT), { subnetId: 1.5 }), { instanceOf: ConfigError })
})
