// SPDX-License-Identifier: MIT
// The official SDKs with only their base URL pointed at `loki serve`, which forwards to
// tests/e2e/fake_provider.py: allowed answers read normally, blocked ones raise an API error
// carrying LOKI's message, streaming and not. Started by run.sh (LOKI_URL, FAKE_URL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const LOKI = process.env.LOKI_URL;
const FAKE = process.env.FAKE_URL;
const ALLOWED = 'Hello from the fake provider.';
const BLOCKED = 'This investment offers guaranteed returns of 20% per year with no risk. Invest now!';
const LONG = 'Markets move for many reasons and nobody can promise an outcome; read the key ' +
  'information document and consider speaking to an adviser before you decide. ';

async function script(...queue) {
  const r = await fetch(FAKE + '/_script', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reset: true, queue }),
  });
  assert.equal(r.status, 200);
}

const openai = new OpenAI({ baseURL: LOKI + '/v1', apiKey: 'sk-client-key', maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: LOKI, apiKey: 'sk-ant-client-key', maxRetries: 0 });
const chat = (extra = {}) => ({
  model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], ...extra,
});
const msg = (extra = {}) => ({
  model: 'claude-test', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }], ...extra,
});
const lokiError = (Cls) => (e) => {
  assert.ok(e instanceof Cls.APIError, `not an APIError: ${e}`);
  assert.match(e.message, /LOKI blocked this answer/);
  return true;
};

test('openai: allowed answer reads normally, verdict in headers and body', async () => {
  await script({ text: ALLOWED });
  const { data, response } = await openai.chat.completions.create(chat()).withResponse();
  assert.equal(data.choices[0].message.content, ALLOWED);
  assert.equal(response.headers.get('x-loki-verdict'), 'allowed');
  assert.equal(data.loki.verdict, 'allowed');
});

test('openai: blocked answer raises an API error with LOKI message', async () => {
  await script({ text: BLOCKED });
  await assert.rejects(openai.chat.completions.create(chat()), (e) => {
    lokiError(OpenAI)(e);
    assert.equal(e.status, 422);
    assert.ok(e instanceof OpenAI.UnprocessableEntityError);
    assert.equal(e.code, 'loki_blocked');
    return true;
  });
});

test('openai: streaming allowed answer', async () => {
  await script({ text: LONG.repeat(3), chunks: 30 });
  const stream = await openai.chat.completions.create(chat({ stream: true }));
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, LONG.repeat(3));
});

test('openai: streaming blocked answer raises an API error', async () => {
  await script({ text: 'Intro. ' + BLOCKED + ' ' + LONG.repeat(4), chunks: 50 });
  const stream = await openai.chat.completions.create(chat({ stream: true }));
  let text = '';
  await assert.rejects(async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  }, lokiError(OpenAI));
  assert.ok(!text.includes('guaranteed returns'), text);
});

test('anthropic: allowed answer reads normally', async () => {
  await script({ text: ALLOWED });
  const { data, response } = await anthropic.messages.create(msg()).withResponse();
  assert.equal(data.content[0].text, ALLOWED);
  assert.equal(response.headers.get('x-loki-verdict'), 'allowed');
  assert.equal(data.loki.risk, 'LOW');
});

test('anthropic: blocked answer raises an API error with LOKI message', async () => {
  await script({ text: BLOCKED });
  await assert.rejects(anthropic.messages.create(msg()), (e) => {
    lokiError(Anthropic)(e);
    assert.equal(e.status, 422);
    assert.ok(e instanceof Anthropic.UnprocessableEntityError);
    return true;
  });
});

test('anthropic: streaming allowed answer (raw stream and helper)', async () => {
  await script({ text: LONG.repeat(3), chunks: 30 });
  const stream = await anthropic.messages.create(msg({ stream: true }));
  let text = '';
  for await (const ev of stream)
    if (ev.type === 'content_block_delta') text += ev.delta.text;
  assert.equal(text, LONG.repeat(3));
  await script({ text: LONG, chunks: 10 });
  const final = await anthropic.messages.stream(msg()).finalMessage();
  assert.equal(final.content[0].text, LONG);
});

test('anthropic: streaming blocked answer raises an API error', async () => {
  await script({ text: 'Intro. ' + BLOCKED + ' ' + LONG.repeat(4), chunks: 50 });
  const stream = await anthropic.messages.create(msg({ stream: true }));
  let text = '';
  await assert.rejects(async () => {
    for await (const ev of stream)
      if (ev.type === 'content_block_delta') text += ev.delta.text;
  }, lokiError(Anthropic));
  assert.ok(!text.includes('guaranteed returns'), text);
  await script({ text: BLOCKED });
  await assert.rejects(anthropic.messages.stream(msg()).finalMessage(), lokiError(Anthropic));
});
