namespace Steward.LocalModels.Templates;

/// <summary>The chat prompt formats Steward renders natively (no Jinja interpreter).</summary>
internal enum ChatTemplateFamily
{
    /// <summary>The model has no chat template: plain completion prompt.</summary>
    None,

    /// <summary>The model has a template Steward does not recognise: plain completion prompt.</summary>
    Unrecognized,

    /// <summary><c>&lt;|im_start|&gt;role\n…&lt;|im_end|&gt;</c>: Qwen, SmolLM2, many fine-tunes.</summary>
    ChatML,

    /// <summary><c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;</c>: Llama 3.x.</summary>
    Llama3,

    /// <summary><c>[INST] &lt;&lt;SYS&gt;&gt;</c>: Llama 2 chat (and TinyLlama-style fine-tunes of it).</summary>
    Llama2,

    /// <summary><c>[INST] … [/INST]</c> without a system block: Mistral Instruct.</summary>
    Mistral,

    /// <summary><c>&lt;|user|&gt;\n…&lt;|end|&gt;</c>: Phi-3 / Phi-3.5.</summary>
    Phi3,

    /// <summary><c>&lt;|user|&gt;\n…&lt;/s&gt;</c>: Zephyr, TinyLlama Chat.</summary>
    Zephyr,

    /// <summary><c>&lt;start_of_turn&gt;user\n…&lt;end_of_turn&gt;</c>: Gemma.</summary>
    Gemma,
}
