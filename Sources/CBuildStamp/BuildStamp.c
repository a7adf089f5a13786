// The build stamp: a C file because C, unlike Swift, can include a file only when it exists
// (`__has_include`). scripts/stamp-build.sh writes generated/build-stamp.h (ignored by git, so
// stamping never dirties the tree) before scripts/test.sh, scripts/stack.sh and image builds
// compile; a fresh clone built with a bare `swift build` compiles without it and says "unknown".
#include "CBuildStamp.h"

#if __has_include("generated/build-stamp.h")
#include "generated/build-stamp.h"
#endif

#ifndef PHOTO_BUILD_COMMIT
#define PHOTO_BUILD_COMMIT "unknown"
#endif

const char *cbuildstamp_commit(void) {
    return PHOTO_BUILD_COMMIT;
}
