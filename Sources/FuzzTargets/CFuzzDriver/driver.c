// Nothing to compile: this C target only carries the libFuzzer driver's declaration (include/cfuzzdriver.h).
#include "cfuzzdriver.h"
