"""The two-site lab (issue 16): what sits between the sites — the DNS name clients use, and
(later) the booth arbitrator."""
