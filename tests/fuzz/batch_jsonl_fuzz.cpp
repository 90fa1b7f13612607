// The Batch API's files and objects, client side: answer lines (one bad line never loses the
// others), input files (which round-trip), batch objects, pages of them, and file ids.
#include "fuzz_support.hpp"
#include "providers/batch_wire.hpp"

#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace actorflow;
  const auto body = fuzz::text(data, size);
  std::vector<std::string> problems;
  const auto answers = wire::decode_batch_answers(body, problems);
  std::size_t lines = 0;
  for (char c : body)
    lines += c == '\n' ? 1 : 0;
  FUZZ_REQUIRE(answers.size() + problems.size() <= lines + 1);
  if (auto input = wire::decode_batch_input(body)) {
    auto again = wire::decode_batch_input(wire::encode_batch_input(*input));
    FUZZ_REQUIRE(again.ok());
    FUZZ_REQUIRE(*again == *input);
  }
  (void)wire::decode_batch_job(body);
  (void)wire::decode_batch_list(body);
  (void)wire::decode_file_id(body);
  return 0;
}
