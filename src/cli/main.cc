#include "cli/cli.h"

int main(int argc, char** argv) { return tradelake::RunCli(argc, argv); }
