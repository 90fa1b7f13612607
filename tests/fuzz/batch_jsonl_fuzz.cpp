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
  // Each line decodes alone as it does among the others: a bad line loses no other.
  std::size_t answered = 0;
  std::size_t refused = 0;
  for (std::string_view rest = body; !rest.empty();) {
    const auto end = rest.find('\n');
    std::vector<std::string> alone_problems;
    const auto alone = wire::decode_batch_answers(rest.substr(0, end), alone_problems);
    for (const auto& answer : alone) {
      FUZZ_REQUIRE(answered < answers.size());
      FUZZ_REQUIRE(answers[answered++].custom_id == answer.custom_id);
    }
    refused += alone_problems.size();
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
  }
  FUZZ_REQUIRE(answered == answers.size());
  FUZZ_REQUIRE(refused == problems.size());
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
