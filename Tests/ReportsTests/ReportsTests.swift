// ReportsTests: tests for Reports.
