// A worker process for the batch provider's kill -9 test: a durable run of ask_each (one chat
// call per prompt) through the openai_batch provider, journaled in the run's checkpoint store.
//
//   batch_resume_worker BASE_URL DB RUN_ID ITEMS run|resume
//
// Prints "submitted" once its first job is created and journaled (the test kills it then), and
// at the end "result <answered> <failed> <calls_resumed> <jobs_submitted> <jobs_found>".
#include <actorflow/actorflow.hpp>

#include "support/ask_each.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

using namespace actorflow;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: batch_resume_worker BASE_URL DB RUN_ID ITEMS run|resume\n";
    return 2;
  }
  const std::string mode = argv[5];
  auto store = open_checkpoint_store(argv[2]);
  auto flow = test::ask_each_flow();
  if (!store || !flow) {
    std::cerr << (store ? flow.error() : store.error()).to_string() << "\n";
    return 1;
  }
  OpenAiConfig server;
  server.base_url = argv[1];
  server.model = "local";
  server.timeout = 10s;
  OpenAiBatchOptions options;
  // One job for the whole batch, as soon as every call is in, however slow the machine.
  options.max_requests = std::stoul(argv[4]);
  options.max_wait = 30s;
  options.poll_initial = 20ms;
  options.poll_max = 100ms;
  options.journal = *store;
  auto provider = make_openai_batch_provider(server, options);

  RuntimeConfig config;
  config.models.add("batch", provider);
  config.checkpoints = *store;
  Runtime runtime(std::move(config));
  auto run = mode == "resume" ? runtime.resume(*flow, argv[3])
                              : runtime.run(*flow, test::ask_prompts(std::stoul(argv[4])),
                                            RunOptions{.run_id = argv[3]});
  // Told once, from a thread of its own: the run goes on meanwhile. (A reporter, not a wait
  // of the test: the test waits for this line.)
  std::thread tell([&provider, &run] {
    while (provider->stats().jobs_submitted + provider->stats().jobs_found == 0 && !run.done())
      std::this_thread::sleep_for(5ms);
    std::cout << "submitted" << std::endl;
  });
  auto result = run.get();
  tell.join();
  if (!result) {
    std::cerr << result.error().to_string() << "\n";
    return 1;
  }
  std::size_t answered = 0, failed = 0;
  for (const Value& error : result->state.at("errors").as_array())
    (error.is_null() ? answered : failed) += 1;
  const auto stats = provider->stats();
  std::cout << "result " << answered << " " << failed << " " << stats.calls_resumed << " "
            << stats.jobs_submitted << " " << stats.jobs_found << std::endl;
  return 0;
}
