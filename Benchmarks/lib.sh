# Shared by Benchmarks/run.sh and Benchmarks/soak.sh: source it after scripts/lib.sh, from the
# repository root.

# bench_release_build SCRATCH SKIP PRODUCT...
# Unless SKIP is 1, `swift build -c release` of each product in the scratch path SCRATCH (the
# build log's tail on failure); then checks that every product's binary is in SCRATCH/release.
# Sets bin_dir to that directory.
bench_release_build() {
    local scratch=$1 skip=$2 product build_log
    shift 2
    if ((!skip)); then
        build_log=$(mktemp -t bench-build.XXXXXX)
        for product in "$@"; do
            photo_log "swift build -c release --product $product (scratch path $scratch)"
            if ! swift build -c release --scratch-path "$scratch" --product "$product" >"$build_log" 2>&1; then
                photo_err "the release build of $product failed"
                photo_log_tail "$build_log" 60
                rm -f "$build_log"
                return 1
            fi
            grep -E '^Build of product' "$build_log" >&2 || true
        done
        rm -f "$build_log"
    fi
    bin_dir="$PWD/$scratch/release"
    for product in "$@"; do
        [[ -x $bin_dir/$product ]] || { photo_err "no $bin_dir/$product (build first, or drop --skip-build)"; return 1; }
    done
}

# bench_migrated_postgres MIGRATOR_BIN
# A throwaway Postgres in RUN_DIR (scripts/lib.sh start_postgres; PHOTO_PG_DURABILITY applies),
# migrated with `migrator up --dir sql`.
bench_migrated_postgres() {
    start_postgres "$RUN_DIR" || return 1
    photo_log "migrating"
    "$1" up --dir sql >"$RUN_DIR/migrator.log" 2>&1 || {
        photo_err "migrator up failed"
        photo_log_tail "$RUN_DIR/migrator.log"
        return 1
    }
}
