// Chat completions as server-sent events, both ways: the chunks a server sends (text and
// tool-call pieces) and the client's decoder that assembles them into one response.
#include "providers/openai_wire.hpp"
#include "providers/sse_line.hpp"
#include "providers/wire_json.hpp"

namespace actorflow::wire {

// -- streaming ----------------------------------------------------------------------------------

std::string encode_chat_chunk(std::string_view id, std::int64_t created_unix,
                              std::string_view model, const ChunkDelta& delta,
                              std::optional<std::string_view> finish_reason,
                              const std::optional<Usage>& usage) {
  json d = json::object();
  if (!delta.text.empty())
    d["content"] = delta.text;
  if (delta.tool_call) {
    const auto& call = *delta.tool_call;
    json function = {{"arguments", call.arguments}};
    json piece = {{"index", delta.tool_index}};
    if (!call.id.empty()) { // the first piece of a call names it
      piece["id"] = call.id;
      piece["type"] = "function";
      function["name"] = call.name;
    }
    piece["function"] = std::move(function);
    d["tool_calls"] = json::array({std::move(piece)});
  }
  json choice = {{"index", 0},
                 {"delta", std::move(d)},
                 {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)}};
  json body = {{"id", id},
               {"object", "chat.completion.chunk"},
               {"created", created_unix},
               {"model", model},
               {"choices", json::array({std::move(choice)})}};
  if (usage)
    body["usage"] = encode_usage(*usage);
  std::string out = "data: ";
  out.append(to_wire(body)).append("\n\n");
  return out;
}

std::string_view sse_done() { return "data: [DONE]\n\n"; }

namespace {

Error event_too_large() {
  return Error{Errc::bad_response, "stream: an event larger than " +
                                       std::to_string(ChatStreamDecoder::max_event_bytes >> 20) +
                                       " MiB"};
}

Error answer_too_large() {
  return Error{Errc::bad_response, "stream: the answer grew past " +
                                       std::to_string(ChatStreamDecoder::max_response_bytes >> 20) +
                                       " MiB"};
}

} // namespace

Result<void> ChatStreamDecoder::feed(std::string_view bytes,
                                     const std::function<void(std::string_view)>& on_piece) {
  if (failed_)
    return *failed_;
  while (!bytes.empty()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
        continue;
      }
    }
    const auto end = bytes.find_first_of("\r\n");
    const auto piece = bytes.substr(0, end); // the rest of the line, or all there is of it
    // Checked before the copy, and per line (a comment too), wherever the reads cut it.
    if (line_.size() + piece.size() > max_event_bytes) {
      failed_ = event_too_large();
      return *failed_;
    }
    line_.append(piece);
    if (end == std::string_view::npos)
      break;
    after_cr_ = bytes[end] == '\r';
    bytes.remove_prefix(end + 1);
    auto ok = take_line(on_piece);
    line_.clear();
    if (!ok) {
      failed_ = ok.error();
      return *failed_;
    }
  }
  return {};
}

// One whole line: a data line adds to the event; a blank line ends it (each event holds one
// JSON chunk, or [DONE]). Comments (": keep-alive"), event names and ids are skipped.
Result<void> ChatStreamDecoder::take_line(const std::function<void(std::string_view)>& on_piece) {
  if (line_.empty()) {
    if (!has_data_)
      return {};
    has_data_ = false;
    std::string data = std::move(data_);
    data_.clear();
    if (data == "[DONE]") {
      done_ = true;
      return {};
    }
    return take_chunk(data, on_piece);
  }
  if (add_sse_data(line_, data_, has_data_) && data_.size() > max_event_bytes)
    return event_too_large();
  return {};
}

Result<void> ChatStreamDecoder::take_chunk(std::string_view data,
                                           const std::function<void(std::string_view)>& on_piece) {
  auto chunk = parse(data, Errc::bad_response);
  if (!chunk)
    return Error{Errc::bad_response, "stream chunk: " + chunk.error().message};
  if (const json* model = member(*chunk, "model"); model && model->is_string())
    response_.model = model->get<std::string>();
  if (const json* usage = member(*chunk, "usage"); usage && usage->is_object())
    response_.usage = decode_usage(*usage);
  const json* choices = member(*chunk, "choices");
  if (!choices || !choices->is_array() || choices->empty())
    return {}; // the usage-only last chunk has no choices
  const json& choice = (*choices)[0];
  any_choice_ = true;
  if (const json* reason = member(choice, "finish_reason"); reason && reason->is_string())
    response_.finish_reason = reason->get<std::string>();
  const json* delta = member(choice, "delta");
  if (!delta || !delta->is_object())
    return {};
  if (const json* content = member(*delta, "content"); content && content->is_string()) {
    const auto& piece = content->get_ref<const std::string&>();
    if (!piece.empty()) {
      response_.text += piece;
      kept_ += piece.size();
      on_piece(piece);
    }
  }
  if (const json* refusal = member(*delta, "refusal"); refusal && refusal->is_string()) {
    const auto& piece = refusal->get_ref<const std::string&>();
    response_.refusal = response_.refusal.value_or("") + piece;
    kept_ += piece.size();
  }
  const json* calls = member(*delta, "tool_calls");
  if (!calls)
    return kept_ > max_response_bytes ? answer_too_large() : Result<void>{};
  if (!calls->is_array())
    return bad(Errc::bad_response, "stream chunk: choices[0].delta.tool_calls",
               "expected an array");
  // Each piece names its call by `index`; the first piece of a call has its id and name, the
  // rest add to its arguments.
  for (const auto& piece : *calls) {
    const json* index = piece.is_object() ? member(piece, "index") : nullptr;
    if (!index || !index->is_number_unsigned() || index->get<std::uint64_t>() > 1024)
      return bad(Errc::bad_response, "stream chunk: choices[0].delta.tool_calls[].index",
                 "expected a small non-negative integer");
    auto at = index->get<std::size_t>();
    if (response_.tool_calls.size() <= at)
      response_.tool_calls.resize(at + 1);
    auto& call = response_.tool_calls[at];
    if (const json* id = member(piece, "id"); id && id->is_string()) {
      call.id = id->get<std::string>();
      kept_ += call.id.size();
    }
    if (const json* function = member(piece, "function"); function && function->is_object()) {
      if (const json* name = member(*function, "name"); name && name->is_string()) {
        call.name += name->get_ref<const std::string&>();
        kept_ += name->get_ref<const std::string&>().size();
      }
      if (const json* args = member(*function, "arguments"); args && args->is_string()) {
        call.arguments += args->get_ref<const std::string&>();
        kept_ += args->get_ref<const std::string&>().size();
      }
    }
  }
  return kept_ > max_response_bytes ? answer_too_large() : Result<void>{};
}

Result<ChatResponse> ChatStreamDecoder::finish() {
  if (failed_)
    return *failed_;
  if (!done_)
    return Error{Errc::bad_response, "the stream ended without its [DONE] event"};
  if (!any_choice_)
    return Error{Errc::bad_response, "the stream held no choices"};
  for (std::size_t i = 0; i < response_.tool_calls.size(); ++i)
    if (response_.tool_calls[i].name.empty())
      return bad(Errc::bad_response, "stream: tool call " + std::to_string(i), "has no name");
  return std::move(response_); // its usage came through decode_usage, if the server sent one
}

} // namespace actorflow::wire
