// The local model's structured answers: JSON Schema instances and tool calls filled from the
// prompt's own words and numbers (the rules are in actorflow/local_model.hpp).
#include <actorflow/local_model.hpp>

#include "core/content_hash.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

namespace {

using detail::ascii_lower;
using detail::is_ascii_digit;
using detail::is_space;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

/// A number written in the prompt, where it starts and ends.
struct Number {
  double value;
  bool integral;
  std::size_t begin;
  std::size_t end;
};

/// Reads a number at `at` ("-12", "3.5", "1,250.00"); none when there is none.
std::optional<Number> number_at(std::string_view text, std::size_t at) {
  std::size_t i = at;
  if (i < text.size() && (text[i] == '-' || text[i] == '+'))
    ++i;
  if (i >= text.size() || !is_ascii_digit(text[i]))
    return std::nullopt;
  std::string digits(text.substr(at, i - at));
  bool integral = true;
  for (; i < text.size(); ++i) {
    char c = text[i];
    bool next_digit = i + 1 < text.size() && is_ascii_digit(text[i + 1]);
    if (is_ascii_digit(c))
      digits += c;
    else if (c == ',' && next_digit) // a thousands separator
      continue;
    else if (c == '.' && next_digit && integral)
      digits += c, integral = false;
    else
      break;
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || ptr != digits.data() + digits.size())
    return std::nullopt;
  return Number{value, integral, at, i};
}

/// What the prompt offers, in order: its numbers and its quoted phrases; fill takes them one
/// after another for properties the prompt does not name.
struct Scan {
  std::string_view text;
  std::string lowered;
  std::vector<Number> numbers;
  std::vector<std::string> quoted;
  std::size_t next_number = 0;
  std::size_t next_quoted = 0;

  explicit Scan(std::string_view prompt) : text(prompt), lowered(lower(prompt)) {
    for (std::size_t i = 0; i < text.size();) {
      bool starts_word = i == 0 || !detail::is_word_byte(text[i - 1]);
      if (text[i] == '"' || text[i] == '`') {
        auto close = text.find(text[i], i + 1);
        if (close == std::string_view::npos)
          break;
        quoted.emplace_back(text.substr(i + 1, close - i - 1));
        i = close + 1;
      } else if (auto n = starts_word ? number_at(text, i) : std::nullopt) {
        numbers.push_back(*n);
        i = n->end;
      } else {
        ++i;
      }
    }
  }
};

/// Where `name` (or its words, for snake_case and kebab-case) is written as a word in the
/// prompt: the position just after it.
std::optional<std::size_t> after_name(const Scan& scan, std::string_view name) {
  std::string raw = lower(name);
  std::string spaced = raw;
  std::replace(spaced.begin(), spaced.end(), '_', ' ');
  std::replace(spaced.begin(), spaced.end(), '-', ' ');
  for (const auto& key : {raw, spaced}) {
    if (key.empty())
      continue;
    for (std::size_t at = scan.lowered.find(key); at != std::string::npos;
         at = scan.lowered.find(key, at + 1)) {
      auto end = at + key.size();
      bool starts = at == 0 || !detail::is_word_byte(scan.lowered[at - 1]);
      bool ends = end == scan.lowered.size() || !detail::is_word_byte(scan.lowered[end]);
      if (starts && ends)
        return end;
    }
  }
  return std::nullopt;
}

/// The text written after a property's name: separators (":", "=", "is", "of") skipped, then
/// a quoted phrase, or everything up to the end of the clause.
std::string value_text_after(std::string_view text, std::size_t at) {
  auto skip = [&] {
    while (at < text.size() && (is_space(text[at]) || text[at] == ':' || text[at] == '='))
      ++at;
  };
  skip();
  for (std::string_view word : {"is ", "of ", "are "})
    if (text.substr(at, word.size()) == word) {
      at += word.size();
      skip();
    }
  if (at < text.size() && (text[at] == '"' || text[at] == '`')) {
    auto close = text.find(text[at], at + 1);
    if (close != std::string_view::npos)
      return std::string(text.substr(at + 1, close - at - 1));
  }
  // The clause ends at ";", a line end, a sentence's "." and a "," (not one between digits:
  // "1,250").
  auto ends_at = [&](std::size_t i) {
    char c = text[i];
    bool digits_around =
        i > 0 && i + 1 < text.size() && is_ascii_digit(text[i - 1]) && is_ascii_digit(text[i + 1]);
    return (c == ',' && !digits_around) || c == ';' || c == '\n' ||
           (c == '.' && (i + 1 == text.size() || is_space(text[i + 1])));
  };
  std::size_t end = at;
  while (end < text.size() && !ends_at(end))
    ++end;
  std::string out(text.substr(at, end - at));
  while (!out.empty() && is_space(out.back()))
    out.pop_back();
  return out;
}

const Value* get(const Value& schema, std::string_view key) {
  return schema.is_map() ? schema.find(key) : nullptr;
}

/// The schema's type; for a list of types, the first that is not "null".
std::string type_of(const Value& schema) {
  const Value* type = get(schema, "type");
  if (type && type->is_string())
    return type->as_string();
  if (type && type->is_array())
    for (const auto& t : type->as_array())
      if (t.is_string() && t.as_string() != "null")
        return t.as_string();
  if (get(schema, "properties"))
    return "object";
  if (get(schema, "items"))
    return "array";
  return "string";
}

double clamp_to(const Value& schema, double v) {
  if (const Value* min = get(schema, "minimum"); min && (min->is_int() || min->is_double()))
    v = std::max(v, min->is_int() ? static_cast<double>(min->as_int()) : min->as_double());
  if (const Value* max = get(schema, "maximum"); max && (max->is_int() || max->is_double()))
    v = std::min(v, max->is_int() ? static_cast<double>(max->as_int()) : max->as_double());
  return v;
}

std::string sized(const Value& schema, std::string s) {
  if (const Value* max = get(schema, "maxLength"); max && max->is_int() && max->as_int() >= 0)
    if (s.size() > static_cast<std::size_t>(max->as_int()))
      s.resize(static_cast<std::size_t>(max->as_int()));
  if (const Value* min = get(schema, "minLength"); min && min->is_int())
    while (s.size() < static_cast<std::size_t>(std::max<std::int64_t>(0, min->as_int())))
      s += '-';
  return s;
}

Value fill(const Value& schema, std::string_view name, Scan& scan, int depth);

Value fill_number(const Value& schema, std::string_view name, Scan& scan, bool integer) {
  std::optional<double> found;
  if (auto at = name.empty() ? std::nullopt : after_name(scan, name)) {
    // The first number after the name, within the clause that follows it.
    auto clause = value_text_after(scan.text, *at);
    for (std::size_t i = 0; i < clause.size() && !found; ++i)
      if (auto n = number_at(clause, i); n && (i == 0 || !detail::is_word_byte(clause[i - 1])))
        found = n->value;
  }
  if (!found && scan.next_number < scan.numbers.size())
    found = scan.numbers[scan.next_number++].value;
  double v = clamp_to(schema, found.value_or(0));
  if (integer)
    return Value(static_cast<std::int64_t>(std::llround(clamp_to(schema, std::round(v)))));
  return Value(v);
}

Value fill_enum(const Array& choices, std::string_view name, const Scan& scan) {
  // The choice written after the name; else the first one written anywhere; else the first.
  std::string after;
  if (auto at = name.empty() ? std::nullopt : after_name(scan, name))
    after = lower(value_text_after(scan.text, *at));
  for (const std::string_view where : {std::string_view(after), std::string_view(scan.lowered)})
    for (const auto& choice : choices)
      if (choice.is_string() && !choice.as_string().empty()) {
        Scan probe(where);
        if (after_name(probe, choice.as_string()))
          return choice;
      }
  return choices.empty() ? Value() : choices.front();
}

Value fill_string(const Value& schema, std::string_view name, Scan& scan) {
  if (const Value* format = get(schema, "format"); format && format->is_string()) {
    const auto& f = format->as_string();
    if (f == "date" || f == "date-time") {
      std::string date = "1970-01-01"; // the first yyyy-mm-dd in the prompt, else the epoch
      for (std::size_t i = 0; i + 10 <= scan.text.size(); ++i) {
        auto d = scan.text.substr(i, 10);
        if (std::all_of(d.begin(), d.end(), [](char c) { return is_ascii_digit(c) || c == '-'; }) &&
            d[4] == '-' && d[7] == '-') {
          date = d;
          break;
        }
      }
      return Value(f == "date" ? date : date + "T00:00:00Z");
    }
    if (f == "email") {
      auto at = scan.text.find('@');
      if (at == std::string_view::npos)
        return Value("someone@example.com");
      auto begin = at;
      while (begin > 0 && !is_space(scan.text[begin - 1]))
        --begin;
      auto end = at;
      while (end < scan.text.size() && !is_space(scan.text[end]) && scan.text[end] != ',')
        ++end;
      while (end > at && (scan.text[end - 1] == '.' || scan.text[end - 1] == ';'))
        --end;
      return Value(scan.text.substr(begin, end - begin));
    }
  }
  if (auto at = name.empty() ? std::nullopt : after_name(scan, name)) {
    auto text = value_text_after(scan.text, *at);
    if (!text.empty())
      return Value(sized(schema, std::move(text)));
  }
  if (scan.next_quoted < scan.quoted.size())
    return Value(sized(schema, scan.quoted[scan.next_quoted++]));
  // The prompt's key words stand in for anything else.
  return Value(sized(schema, extract_title(scan.text, 4)));
}

Value fill_array(const Value& schema, std::string_view name, Scan& scan, int depth) {
  const Value* items = get(schema, "items");
  Value item_schema = items ? *items : Value::object({{"type", "string"}});
  Array out;
  auto item_type = type_of(item_schema);
  // One item per remaining number (or quoted phrase), counted first: an item schema that
  // takes none of them (const, anyOf, a format) must not loop for ever.
  auto repeat = [&](std::size_t left) {
    for (std::size_t i = 0; i < left && i < 64; ++i)
      out.push_back(fill(item_schema, {}, scan, depth + 1));
  };
  if ((item_type == "number" || item_type == "integer") && !get(item_schema, "enum")) {
    repeat(scan.numbers.size() - scan.next_number);
  } else if (item_type == "string" && !get(item_schema, "enum") && !scan.quoted.empty()) {
    repeat(scan.quoted.size() - scan.next_quoted);
  } else {
    out.push_back(fill(item_schema, name, scan, depth + 1));
  }
  std::size_t min_items = 0;
  if (const Value* min = get(schema, "minItems"); min && min->is_int() && min->as_int() > 0)
    min_items = static_cast<std::size_t>(std::min<std::int64_t>(min->as_int(), 64));
  while (out.size() < min_items)
    out.push_back(out.empty() ? fill(item_schema, {}, scan, depth + 1) : out.back());
  if (const Value* max = get(schema, "maxItems"); max && max->is_int() && max->as_int() >= 0)
    if (out.size() > static_cast<std::size_t>(max->as_int()))
      out.resize(static_cast<std::size_t>(max->as_int()));
  return Value(std::move(out));
}

Value fill(const Value& schema, std::string_view name, Scan& scan, int depth) {
  if (depth > 32 || !schema.is_map())
    return Value();
  if (const Value* c = get(schema, "const"))
    return *c;
  if (const Value* choices = get(schema, "enum"); choices && choices->is_array())
    return fill_enum(choices->as_array(), name, scan);
  for (const char* branch : {"anyOf", "oneOf", "allOf"})
    if (const Value* list = get(schema, branch);
        list && list->is_array() && !list->as_array().empty())
      return fill(list->as_array().front(), name, scan, depth + 1);
  auto type = type_of(schema);
  if (type == "object") {
    Map out;
    if (const Value* properties = get(schema, "properties"); properties && properties->is_map())
      for (const auto& [key, sub] : properties->as_map())
        out.emplace(key, fill(sub, key, scan, depth + 1));
    return Value(std::move(out));
  }
  if (type == "array")
    return fill_array(schema, name, scan, depth);
  if (type == "integer" || type == "number")
    return fill_number(schema, name, scan, type == "integer");
  if (type == "boolean") {
    if (auto at = name.empty() ? std::nullopt : after_name(scan, name)) {
      auto word = lower(value_text_after(scan.text, *at));
      return Value(word.starts_with("true") || word.starts_with("yes"));
    }
    return Value(false);
  }
  if (type == "null")
    return Value();
  return fill_string(schema, name, scan);
}

} // namespace

Value local_fill_schema(const Value& schema, std::string_view prompt) {
  Scan scan(prompt);
  return fill(schema, {}, scan, 0);
}

std::vector<ToolCall> local_tool_calls(const ChatRequest& request) {
  std::vector<ToolCall> out;
  auto choice = request.tool_choice.value_or(ToolChoice::automatic());
  // After tool results the model answers, unless it must call a tool (required, or named).
  bool must_call =
      choice.mode == ToolChoice::Mode::required || choice.mode == ToolChoice::Mode::function;
  if (request.tools.empty() || choice.mode == ToolChoice::Mode::none || request.messages.empty() ||
      (request.messages.back().role == "tool" && !must_call))
    return out;
  auto prompt = request.prompt();
  Scan scan(prompt);
  std::vector<const ToolSpec*> chosen;
  for (const auto& tool : request.tools) {
    bool named = choice.mode == ToolChoice::Mode::function
                     ? tool.name == choice.function
                     : after_name(scan, tool.name).has_value();
    if (named)
      chosen.push_back(&tool);
  }
  if (chosen.empty() && choice.mode == ToolChoice::Mode::required)
    chosen.push_back(&request.tools.front());
  if (request.parallel_tool_calls == false && chosen.size() > 1) // erase: GCC 12 misreads resize
    chosen.erase(chosen.begin() + 1, chosen.end());
  auto seed = detail::fnv1a64(prompt);
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    char hash[16];
    std::snprintf(
        hash, sizeof hash, "%08llx",
        static_cast<unsigned long long>((seed ^ detail::fnv1a64(chosen[i]->name)) & 0xffffffffu));
    auto id = "call_" + std::to_string(i) + "_" + hash;
    Scan fresh(prompt); // each call reads the prompt from its start
    out.push_back(
        ToolCall{id, chosen[i]->name, to_json(fill(chosen[i]->parameters, {}, fresh, 0))});
  }
  return out;
}

} // namespace actorflow
