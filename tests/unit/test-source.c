#include "../lib/harness.h"
HARNESS_MAIN
TEST(stub) { ASSERT(1); }
