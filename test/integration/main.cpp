#define CATCH_CONFIG_RUNNER
#include <csignal>

#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  std::signal(SIGPIPE, SIG_IGN);  // a server closing on a refused upload must fail a check, not kill the run
  return Catch::Session().run(argc, argv);
}
