// Documents to typed records: a parallel batch (one actor per document) asks the model for a
// JSON answer valid against a JSON Schema (`ctx.llm().structured`), repairs the answers that
// are not, and prints the records as a table.
//
// On the embedded local model the example tells the model to break one first answer in three
// (LocalProviderOptions::bad_structured_one_in), so that repairs happen where you can see them:
// each broken answer goes back with the validation errors quoted, and the repaired one passes.
// Exit code 1 unless every record validates and the repairs happened.
// Run: build/release/examples/extract_records [--break-one-in N] [--graph]
#include "example_support.hpp"

#include <iomanip>
#include <iostream>

using namespace actorflow;

namespace {

const char* invoice_schema = R"({
  "type": "object",
  "properties": {
    "invoice": {"type": "integer", "minimum": 1},
    "company": {"type": "string", "minLength": 1},
    "total": {"type": "number", "minimum": 0},
    "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
    "due": {"type": "string", "format": "date"},
    "paid": {"type": "boolean"}
  },
  "required": ["invoice", "company", "total", "currency", "due", "paid"],
  "additionalProperties": false
})";

const std::vector<std::string> documents = {
    "Invoice 1043 from company: Acme Tools. Total: 1,250.50 in EUR, due 2026-01-15. Paid: no.",
    "Invoice 1044, company: Baltic Freight. Total 89.90 USD; due 2026-02-01; paid: yes.",
    "Invoice 1045. Company: Cobalt & Sons. Total: 12,000 GBP. Due 2026-03-31. Paid: no.",
    "Invoice 1046 for company: Delta Labs, total 430 EUR, due 2026-01-20, paid: yes.",
    "Invoice 1047, company: Eastwind Media. Total: 77.25 USD. Due 2026-04-10. Paid: no.",
    "Invoice 1048. Company: Fjord Analytics. Total 3,300.00 EUR, due 2026-02-28, paid: no.",
};

/// One document to one record; the batch keeps the records in document order.
class Extract : public ParallelBatchNode {
public:
  explicit Extract(Value schema)
      : ParallelBatchNode(BatchOptions{.max_concurrency = 4}), schema_(std::move(schema)) {}
  Value prep(const State& state) override { return state.at("documents"); }
  Task<Value> exec(Value document, Context& ctx) override {
    auto request = ChatRequest::user("Extract the invoice as JSON: " + document.as_string());
    auto record = co_await ctx.llm().structured(std::move(request), schema_);
    co_return record.value(); // bad_output fails this item only
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    Array records;
    for (auto& item : result.items)
      records.push_back(item.ok() ? item.value() : Value(item.error().to_string()));
    state = state.with({{"records", Value(std::move(records))}, {"failed", result.summary.failed}});
    return std::string(default_action);
  }

private:
  Value schema_;
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Documents to typed records, with a JSON Schema and repairs"};
  std::uint32_t break_one_in = 3;
  bool graph = false;
  app.add_option("--break-one-in", break_one_in,
                 "The local model breaks one first answer in N (0: none)");
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);
  auto schema = from_json(invoice_schema).value();
  auto flow = FlowBuilder("extract").node<Extract>("extract", schema).build().value();
  if (examples::graph_printed(graph, flow))
    return 0;

  auto config = examples::runtime_config_or_exit("");
  bool on_local = config.models.default_name() == "local";
  if (on_local)
    config.models.add("local", make_local_provider({.bad_structured_one_in = break_one_in}));
  Runtime runtime{std::move(config)};

  auto compiled = JsonSchema::compile(schema).value();
  Array docs(documents.begin(), documents.end());
  auto result = runtime.run(flow, State{}.with("documents", Value(docs))).get();
  if (!result) {
    std::cerr << result.error().to_string() << "\n";
    return 1;
  }

  std::cout << std::left << std::setw(8) << "invoice" << std::setw(18) << "company" << std::right
            << std::setw(10) << "total"
            << "  " << std::setw(4) << "cur"
            << "  " << std::setw(10) << "due"
            << "  paid\n";
  bool all_valid = true;
  for (const auto& record : result->state.at("records").as_array()) {
    if (!record.is_map() || !compiled.accepts(record)) {
      all_valid = false;
      std::cout << "(not a valid record: " << to_json(record) << ")\n";
      continue;
    }
    std::cout << std::left << std::setw(8) << record.at("invoice").as_int() << std::setw(18)
              << record.at("company").as_string() << std::right << std::setw(10) << std::fixed
              << std::setprecision(2)
              << (record.at("total").is_int() ? static_cast<double>(record.at("total").as_int())
                                              : record.at("total").as_double())
              << "  " << std::setw(4) << record.at("currency").as_string() << "  " << std::setw(10)
              << record.at("due").as_string() << "  "
              << (record.at("paid").as_bool() ? "yes" : "no") << "\n";
  }
  auto calls = result->usage.calls;
  auto repairs = calls - documents.size();
  std::cout << "\n"
            << documents.size() << " documents, " << calls << " model calls, " << repairs
            << " repairs, " << result->state.at("failed").as_int() << " failed\n";
  bool ok = all_valid && result->state.at("failed").as_int() == 0;
  if (on_local && break_one_in > 0)
    ok = ok && repairs > 0;
  return ok ? 0 : 1;
}
