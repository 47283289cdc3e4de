// Reads [{ "template": string, "context": object }, ...] as JSON on standard input and writes, in the same order,
// [{ "output": string } | { "error": string }, ...]: each template rendered with @huggingface/jinja.
import { Template } from "@huggingface/jinja";

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) {
  input += chunk;
}

const results = JSON.parse(input).map(({ template, context }) => {
  try {
    return { output: new Template(template).render(context) };
  } catch (error) {
    return { error: String(error?.message ?? error) };
  }
});
process.stdout.write(JSON.stringify(results));
