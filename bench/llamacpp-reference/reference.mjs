// llama.cpp's greedy output and first-step logits for a GGUF file, as the golden tests and the engine checks use them.
// Usage: node reference.mjs <model.gguf> <threads> <prompt ids, comma separated> <steps> [--full-logits]
// Prints one JSON object: {ids: [...], logits: [...]} where logits are the raw logits after the prompt (all of the
// vocabulary with --full-logits, else the 16 largest as [id, logit] pairs). The prompt runs as one batch, every
// generated token as its own batch, greedy (temperature 0): what llama.cpp's own CLI does.
import {getLlama} from "node-llama-cpp";

const [modelPath, threadsArg, promptArg, stepsArg, ...flags] = process.argv.slice(2);
const threads = Number(threadsArg);
const prompt = promptArg.split(",").map(Number);
const steps = Number(stepsArg);
const fullLogits = flags.includes("--full-logits");

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
    contextSize: Math.max(256, prompt.length + steps + 16),
    batchSize: Math.max(512, prompt.length),
    threads: {ideal: threads, min: threads},
    sequences: 1
});
const sequence = context.getSequence();

const greedy = {temperature: 0};
const input = prompt.map((id, i) => i === prompt.length - 1
    ? [id, {generateNext: {token: true, logits: true, options: greedy}}]
    : id);
const first = (await sequence.controlledEvaluate(input)).at(-1).next;
const entries = [...first.logits.entries()];
let logits;
if (fullLogits) {
    logits = new Array(entries.length);
    for (const [id, value] of entries) logits[id] = value;
} else {
    logits = entries.slice(0, 16);
}

const ids = [first.token];
while (ids.length < steps) {
    const out = await sequence.controlledEvaluate([[ids.at(-1), {generateNext: {token: true, options: greedy}}]]);
    ids.push(out.at(-1).next.token);
}

console.log(JSON.stringify({engine: "llama.cpp", threads, ids, logits}));
await context.dispose();
await model.dispose();
await llama.dispose();
