#include "sim/faults.hpp"

namespace actorflow::tools::sim {

Result<std::vector<Fault>> parse_fault_list(std::string_view list) {
  std::vector<Fault> faults;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto name = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    auto fault = parse_name<Fault>(fault_names, name);
    if (!fault)
      return Error{Errc::bad_input, "--faults: unknown kind '" + std::string(name) +
                                        "' (known: " + join(fault_names) + ")"};
    faults.push_back(*fault);
  }
  if (faults.empty())
    return Error{Errc::bad_input, "--faults: no kind given"};
  return faults;
}

} // namespace actorflow::tools::sim
