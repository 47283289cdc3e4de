// Calls Steward's gateway with the npm openai package, as a Node application would, and prints one JSON object with
// what it got back. Usage: node gateway.mjs BASE_URL KEY MODEL SCENARIO
//   chat         a chat completion, not streamed
//   chat-stream  a streamed chat completion with usage
//   responses    a streamed Responses call (text events, then response.completed)
//   errors       the error classes: a bad key, an unknown model, n=5
import OpenAI from "openai";

const [baseURL, apiKey, model, scenario] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });

async function chat() {
  const completion = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Say hello." }] });
  return { text: completion.choices[0].message.content, finish: completion.choices[0].finish_reason, usage: completion.usage };
}

async function chatStream() {
  const stream = await client.chat.completions.create({
    model, messages: [{ role: "user", content: "Say hello." }], stream: true, stream_options: { include_usage: true },
  });
  let text = "", finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? "";
    finish ??= chunk.choices[0]?.finish_reason ?? null;
    usage ??= chunk.usage ?? null;
  }
  return { text, finish, usage, chunks };
}

async function responses() {
  const stream = await client.responses.create({ model, input: "Say hello.", stream: true });
  let text = "", types = [], completed = null;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") completed = event.response;
  }
  return { text, types: [...new Set(types)], status: completed?.status, usage: completed?.usage, outputText: completed?.output_text ?? null };
}

async function errorOf(call) {
  try {
    await call();
    return null;
  } catch (error) {
    return { class: error.constructor.name, status: error.status, code: error.code ?? null, param: error.param ?? null };
  }
}

async function errors() {
  const bad = new OpenAI({ baseURL, apiKey: "sk-stw-wrong", maxRetries: 0 });
  return {
    badKey: await errorOf(() => bad.chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }] })),
    unknownModel: await errorOf(() => client.chat.completions.create({ model: "no_such_model", messages: [{ role: "user", content: "Hi" }] })),
    n5: await errorOf(() => client.chat.completions.create({ model, n: 5, messages: [{ role: "user", content: "Hi" }] })),
    // Each call reserves its prompt and a 20-token cap and uses 19: a 60-token budget refuses the third or so.
    budget: await errorOf(async () => {
      for (let i = 0; i < 10; i++) await client.chat.completions.create({ model, max_tokens: 20, messages: [{ role: "user", content: "Hi" }] });
    }),
  };
}

const scenarios = { chat, "chat-stream": chatStream, responses, errors };
try {
  console.log(JSON.stringify(await scenarios[scenario]()));
} catch (error) {
  console.error(`${error.constructor.name}: ${error.message}`);
  process.exit(1);
}
