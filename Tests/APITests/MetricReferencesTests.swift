import Testing

/// The name extraction ``ObservabilityContractTests`` relies on: a parser that found nothing
/// would let any rule pass.
@Suite struct MetricReferencesTests {
    @Test func namesAreTheSelectorsNotFunctionsLabelsOrNumbers() {
        let expression = """
            histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="$api_job", \
            route!~"/(healthz|readyz)"}[$__rate_interval]))) > 0.5
              or sum without (instance) (increase(outbox_events_failed_total[5m] offset 1h)) / on (job) group_left
              max(process_max_fds) and absent(build_info) unless time() - 1e3 > bool 2
            """
        #expect(
            MetricReferences.metricNames(in: expression)
                == [
                    "http_request_duration_seconds_bucket", "outbox_events_failed_total", "process_max_fds",
                    "build_info",
                ]
        )
    }

    @Test func ruleExpressionsReadOneLineAndBlockValues() {
        let yaml = """
            groups:
              - name: x
                rules:
                  - alert: A
                    expr: max(a_seconds) > 300
                    for: 5m
                  - alert: B
                    expr: |-
                      sum(rate(b_total[5m]))
                        / sum(rate(c_total[5m])) > 0.05
                    labels:
                      severity: page
            """
        #expect(
            MetricReferences.ruleExpressions(yaml) == [
                "max(a_seconds) > 300", "          sum(rate(b_total[5m]))\n            / sum(rate(c_total[5m])) > 0.05",
            ]
        )
    }
}
