#pragma once
// The interrupts table of the PostgreSQL checkpoint store: the store's save_interrupt,
// answer_interrupt and load_interrupts (see actorflow/checkpoint.hpp for what each promises).
// Each call takes the connection's mutex for its work.

#include <actorflow/interrupt.hpp>
#include <actorflow/result.hpp>

#include "store/postgres.hpp"

#include <string_view>
#include <vector>

namespace actorflow::detail::postgres {

class PostgresInterrupts {
public:
  explicit PostgresInterrupts(Connection& conn) noexcept : conn_(conn) {}

  // Prepares the statements; the mutex held.
  Result<void> prepare();

  Result<void> save(std::string_view run_id, const Interrupt& interrupt);
  Result<void> answer(std::string_view run_id, std::string_view id, const Value& answer);
  Result<std::vector<Interrupt>> load(std::string_view run_id);

private:
  Connection& conn_;
};

} // namespace actorflow::detail::postgres
