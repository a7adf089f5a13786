# Shared by the benchmark scripts (Benchmarks/run.sh, Benchmarks/api/run.sh, Benchmarks/scaling.sh,
# Benchmarks/soak.sh);
# source it after scripts/lib.sh.

# bench_set_durability FAST: exports PHOTO_PG_DURABILITY for scripts/lib.sh start_postgres:
# durable (Postgres's defaults: fsync, synchronous_commit and full_page_writes on, as production
# runs) unless FAST is 1 (the scripts' --fast-postgres: all three off, a labelled diagnostic).
bench_set_durability() {
    if (($1)); then
        export PHOTO_PG_DURABILITY=fast
    else
        export PHOTO_PG_DURABILITY=durable
    fi
}

# bench_python: prints the Python of Benchmarks/.venv (ignored by git through .venv*/), created
# or updated first: psycopg 3 and boto3 for the relay benchmark, matplotlib for the plots.
bench_python() {
    local venv="$repo_root/Benchmarks/.venv"
    local pip_specs=("psycopg[binary]>=3.1,<4" "boto3>=1.34" "matplotlib>=3.7,<4")
    if [[ ! -x $venv/bin/python || ! -f $venv/.bench-pip-specs || $(<"$venv/.bench-pip-specs") != "${pip_specs[*]}" ]]; then
        photo_log "creating $venv (psycopg, boto3, matplotlib)"
        python3 -m venv "$venv" >&2 || return 1
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pip_specs[@]}" >&2 || return 1
        printf '%s' "${pip_specs[*]}" >"$venv/.bench-pip-specs"
    fi
    printf '%s\n' "$venv/bin/python"
}

# bench_start_postgres MIGRATOR_BIN: a throwaway Postgres in RUN_DIR (scripts/lib.sh
# start_postgres, as PHOTO_PG_DURABILITY says), migrated, prepared by bench_pg_prepare.
bench_start_postgres() {
    start_postgres "$RUN_DIR" || return 1
    photo_log "migrating"
    "$1" up --dir sql >"$RUN_DIR/migrator.log" 2>&1 || {
        photo_err "migrator up failed"; photo_log_tail "$RUN_DIR/migrator.log"; return 1; }
    bench_pg_prepare
}

# bench_pg_prepare: turns on track_wal_io_timing in the throwaway cluster (so pg_stat_wal has the
# time WAL flushes took) and prints the durability settings the server reports.
bench_pg_prepare() {
    psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -c "ALTER SYSTEM SET track_wal_io_timing = on" \
        -c "SELECT pg_reload_conf()" >/dev/null || return 1
    photo_log "postgres ($PHOTO_PG_DURABILITY): $(psql "$DATABASE_URL" -At -c \
        "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
          WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method')")"
}

# bench_pg_snapshot FILE: Benchmarks/pg_snapshot.sql's JSON (WAL counters, commits, settings).
bench_pg_snapshot() {
    psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -At -f "$repo_root/Benchmarks/pg_snapshot.sql" >"$1"
}

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
    bin_dir="$repo_root/$scratch/release"
    for product in "$@"; do
        [[ -x $bin_dir/$product ]] || { photo_err "no $bin_dir/$product (build first, or drop --skip-build)"; return 1; }
    done
}
