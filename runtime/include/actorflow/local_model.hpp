#pragma once
/// The offline "local" model: deterministic text functions that stand in for an LLM, and the
/// embedded `local` provider built on them.
///
/// This is no language model. It lets flows, examples and tests run without a network or a key,
/// with answers that are stable and testable: summaries are sentences copied from the input,
/// titles are its key terms, embeddings are hashed n-grams, and chat replies follow the fixed
/// rules of `local_chat_reply`. Every function is pure: the same input gives the same output
/// on every run, independent of the locale (text is handled as bytes; only ASCII letters change
/// case, and every non-ASCII byte counts as part of a word). All are safe to call from any thread.

#include <actorflow/llm.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

// -- text -----------------------------------------------------------------------------------

/// Cuts `text` into sentences, in order, each trimmed and with its whitespace runs (line breaks
/// included) collapsed to one space.
///
/// A sentence ends:
/// - after `.`, `!` or `?` (or a run of them, then any closing `"`, `'`, `)` or `]`) that is
///   followed by whitespace or the end of the text, so "3.14" and "example.com" do not end one;
/// - at a blank line (a paragraph break), even without a final mark;
/// - around a Markdown heading line (`# Title` up to `###### Title`), which is a sentence of its
///   own and keeps its `#` marks;
/// - around a Markdown table row (a line whose first non-blank byte is `|`), a sentence of its
///   own, and around a fenced code block (from a line of three or more '`' or '~' to the next
///   such line, or the end of the text), which is one sentence whatever marks it holds;
/// - at the end of the text, with or without a final mark.
///
/// A period does not end a sentence after a title or Latin abbreviation (Mr., Mrs., Ms., Dr.,
/// Prof., Sr., Jr., St., vs., cf., fig., e.g., i.e.) or a single-letter initial ("J. Smith").
/// After "etc.", dotted acronyms ("U.S.", "a.m.") and an ellipsis ("...") the sentence ends only
/// if the next word does not start with a lowercase ASCII letter.
[[nodiscard]] std::vector<std::string> split_sentences(std::string_view text);

/// Whether `lowercase_word` is one of the common English function words ("the", "shall",
/// "yourselves", ...) that the local model leaves out of its key terms and titles.
[[nodiscard]] bool is_stop_word(std::string_view lowercase_word);

/// The `max_sentences` most central sentences of `text`, in their original order, joined by one
/// space; every sentence if there are no more than that; "" for blank text or `max_sentences` 0.
///
/// Method: TextRank. Sentences (from `split_sentences`; headings, table rows and code blocks are
/// left out) are the nodes of a
/// graph whose edge weights are the cosine similarities of their TF-ISF vectors: lowercase terms
/// without stop words, term frequency in the sentence times `ln(1 + n / df)` where `n` is the
/// number of sentences and `df` the number holding the term. PageRank (damping 0.85) over that
/// graph scores a sentence high when it shares the document's recurring terms with many others;
/// a sentence that shares nothing scores lowest. Ties go to the earlier sentence. Runs in time
/// and memory linear in the length of the text (the graph is never built explicitly).
[[nodiscard]] std::string extractive_summary(std::string_view text, std::size_t max_sentences);

/// A short title of at most `max_words` words for `text`.
///
/// If the first non-blank line is a Markdown heading (`# Title`, any level), its text is the
/// title, as written, cut to `max_words` words. Otherwise the title is made of key terms: the
/// words (not stop words, not numbers, 2+ bytes) that occur most often, ties to the earlier;
/// only words that occur at least twice qualify when there are any. The chosen words appear in
/// the order they first occur in the text, each as first written with its first letter made
/// uppercase ("gRPC" stays "GRPC", "CAF" stays "CAF"), joined by one space. A text of stop words
/// only gives its first `max_words` words; blank text gives "".
[[nodiscard]] std::string extract_title(std::string_view text, std::size_t max_words = 6);

// -- embeddings -----------------------------------------------------------------------------

/// A `dimension`-long embedding of `text` by the hashing trick; empty for `dimension` 0.
///
/// Features: lowercase words without stop words (all words if the text has only stop words),
/// the bigrams of consecutive such words, and the character 3-grams of each word wrapped in
/// boundary marks ("<cat>" gives "<ca", "cat", "at>"). Each distinct feature adds
/// `weight * (1 + ln count)` to one slot, with a sign. Words weigh 1; bigrams and 3-grams 0.5,
/// as supporting evidence: bigrams add word order, 3-grams relate "purred" to "purring". The
/// slot is the feature's hash modulo `dimension`, the sign another bit of the same hash, so
/// collisions cancel on average instead of piling up. The hash is our own FNV-1a 64 with a final
/// mix: slots and signs are the same on every platform and run. The vector is L2-normalised; a
/// text without words gives the zero vector.
[[nodiscard]] std::vector<float> hashing_embedding(std::string_view text,
                                                   std::size_t dimension = 256);

/// The cosine of the angle between `a` and `b`, in [-1, 1]; 0.0 if their sizes differ, if they
/// are empty, or if either is the zero vector.
[[nodiscard]] double cosine_similarity(const std::vector<float>& a, const std::vector<float>& b);

// -- chat -----------------------------------------------------------------------------------

/// The local provider's answer to a chat prompt, by fixed rules.
///
/// 1. The prompt is cut into an instruction and a text. If its first line holds a colon, the
///    instruction is what precedes the first colon and the text everything after it; otherwise
///    the instruction is the first line and the text the lines after it. A blank text means the
///    text is the whole prompt.
/// 2. If the instruction (ASCII case ignored) has a word starting with "summari" (summarise,
///    summarize, summarization, ...), or "tldr" or "tl;dr": `extractive_summary(text, 3)`.
/// 3. Else, if the instruction has the word "title": `extract_title(text)`.
/// 4. Else: "[local model] " followed by the prompt, whitespace collapsed, cut to its first 200
///    bytes (at a UTF-8 character boundary, "..." appended when cut); "[local model] (empty
///    prompt)" for a blank prompt. The prefix says plainly that no LLM answered.
[[nodiscard]] std::string local_chat_reply(std::string_view prompt);

// -- the embedded `local` provider ------------------------------------------------------------

/// The local provider's dimension for embeddings.
inline constexpr std::size_t local_embedding_dimension = 256;

/// An instance of JSON Schema `schema` filled from `prompt`, deterministically; it validates
/// against the usual schemas of structured outputs and tool parameters (objects, arrays,
/// strings, numbers, integers, booleans, enums, const, anyOf/oneOf/allOf by their first branch,
/// minimum/maximum, minLength/maxLength, minItems/maxItems; not `pattern`).
///
/// A member takes what the prompt writes after its name (ASCII case ignored; `_` and `-` read
/// as spaces), past ":", "=", "is" or "of": a quoted phrase, else the clause up to the next
/// ",", ";", line end or sentence end (a number member: the first number there; a boolean:
/// whether that begins with "true" or "yes"; an enum: the choice written there). A member the
/// prompt does not name takes the prompt's next unused number (numbers), its next unused quoted
/// phrase, else its key terms (strings), false (booleans), its first choice mentioned anywhere,
/// else the first (enums). An array of numbers or strings takes all remaining numbers or quoted
/// phrases; any other array one filled item. A "date" (or "date-time") format takes the first
/// yyyy-mm-dd (else 1970-01-01), an "email" the first word with an @ (else someone@example.com).
[[nodiscard]] Value local_fill_schema(const Value& schema, std::string_view prompt);

/// The tool calls the local model makes for `request`: none if it offers no tools, if
/// tool_choice is "none", or if its last message is a tool result (then it answers instead;
/// with tool_choice "required" or a named tool it calls again).
/// Otherwise one call of each offered tool whose name the prompt writes (the named function
/// for a named tool_choice; the first tool when "required" and the prompt names none), only
/// the first with parallel_tool_calls false. Arguments: `local_fill_schema(parameters,
/// prompt)`; ids "call_<i>_<hash>", the same for the same request.
[[nodiscard]] std::vector<ToolCall> local_tool_calls(const ChatRequest& request);

/// The local provider's answer to `request`, computed on this thread:
/// - tool calls, when `local_tool_calls` makes any (finish "tool_calls", no text);
/// - after tool results: "[local model] " then each trailing result as "name: content",
///   joined by "; ";
/// - with a json_schema response format: `local_fill_schema(schema, first user message)` as
///   JSON text (the first: later user messages of a structured chat are repair requests);
///   with json_object: {"answer": local_chat_reply(prompt)};
/// - else `local_chat_reply(request.prompt())` (above).
/// The text is cut at the first stop sequence (finish "stop") or to `max_tokens` tokens
/// (finish "length"). Usage counts the prompt as `estimate_prompt_tokens` does, and the
/// answer (text and tool calls), both with `tokens`.
[[nodiscard]] ChatResponse local_chat(const ChatRequest& request, const TokenEstimator& tokens);
/// The local provider's embeddings: `hashing_embedding(text, local_embedding_dimension)` for
/// each text; usage counts every text with `tokens`.
[[nodiscard]] Embeddings local_embed(const EmbedRequest& request, const TokenEstimator& tokens);
struct LocalProviderOptions {
  /// Breaks one first answer in this many to a json_schema request (chosen by the prompt's
  /// hash, so the same ones on every run; repairs are never broken): the instance loses its
  /// first required member. 0: never. For showing and testing repairs offline.
  std::uint32_t bad_structured_one_in = 0;
  /// A streamed chat (one with `ChatRequest::on_token`) sends its answer a word at a time, one
  /// word per interval, from the provider's own pacing thread (one for the provider, however
  /// many calls stream), and completes after the last: a model's pace, for demos of token
  /// streaming. Zero: the whole answer as one piece, at once, on the calling thread.
  std::chrono::microseconds stream_interval{0};
};

/// The embedded provider: offline, deterministic, answers at once (on the calling thread;
/// see `stream_interval` for the exception). It is no LLM; the functions above say exactly
/// what it does. Model name "local".
[[nodiscard]] ModelProviderPtr make_local_provider(LocalProviderOptions options = {});

} // namespace actorflow
