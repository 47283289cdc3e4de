namespace Steward.LocalModels.Tokenization;

/// <summary>GGUF <c>tokenizer.ggml.token_type</c> values, numbered as llama.cpp numbers them.</summary>
internal enum TokenType
{
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
