// llama.cpp side of the Steward.LocalModels benchmark's concurrency table (run by the C# bench as a child process).
// Usage: node parallel.mjs <model.gguf> <threads> <tokens to generate> <prompts: ids comma separated, prompts ';' separated>
// Starts one greedy generation per prompt at once, each in its own sequence of one context (node-llama-cpp batches the
// sequences' tokens into one llama_decode per step, like llama.cpp server's parallel slots); prints one JSON object
// with the aggregate generation speed while all of them generate (tokens received between the last sequence's first
// token and the first sequence's last token ÷ that time; best of 2 rounds after a warm-up).
import {getLlama} from "node-llama-cpp";

const [modelPath, threadsArg, genArg, promptsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const genCount = Number(genArg);
const prompts = promptsArg.split(";").map(p => p.split(",").map(Number));
const perSequence = Math.max(256, Math.max(...prompts.map(p => p.length)) + genCount + 16);

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
    contextSize: perSequence * prompts.length,
    batchSize: 512,
    threads: {ideal: threads, min: threads},
    sequences: prompts.length
});
const sequences = prompts.map(() => context.getSequence());

async function generate(sequence, prompt) {
    await sequence.clearHistory();
    const stamps = [];
    for await (const token of sequence.evaluate(prompt, {temperature: 0})) {
        stamps.push(performance.now());
        if (stamps.length >= genCount) break;
    }
    return stamps;
}

function steadyAggregate(stamps) {
    const from = Math.max(...stamps.map(s => s[0]));
    const to = Math.min(...stamps.map(s => s[s.length - 1]));
    const tokens = stamps.reduce((sum, s) => sum + s.filter(t => t > from && t <= to).length, 0);
    return tokens / ((to - from) / 1000);
}

let best = 0;
for (let round = 0; round < 3; round++) {
    const aggregate = steadyAggregate(await Promise.all(prompts.map((p, i) => generate(sequences[i], p))));
    if (round > 0) best = Math.max(best, aggregate);
}

console.log(JSON.stringify({engine: "llama.cpp", threads, requests: prompts.length, aggregateTokensPerSecond: best}));
await context.dispose();
await model.dispose();
await llama.dispose();
