#ifndef CBUILDSTAMP_H
#define CBUILDSTAMP_H

/// The git commit this binary was built from, as `scripts/stamp-build.sh` wrote it into the
/// untracked `generated/build-stamp.h` before the build; "unknown" when nothing was stamped
/// (a bare `swift build` in a tree the script never ran in).
const char *_Nonnull cbuildstamp_commit(void);

#endif
