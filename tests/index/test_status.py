"""What designers are told of the index's freshness, and what /healthz is told."""

from datetime import timedelta

from django.utils import timezone

from dashboard.index.status import IndexStatus


def status(**changes) -> IndexStatus:
    values = {
        "indexed": 1240,
        "upstream_total": 10000,
        "first_sync_done": True,
        "last_contact_at": timezone.now(),
        "problem": "",
    }
    return IndexStatus(**{**values, **changes})


def test_current_and_caught_up_reads_up_to_date():
    assert status().sentence == "Up to date" and status().level == "current"


def test_a_first_sync_says_how_far_it_is():
    catching_up = status(first_sync_done=False)
    assert catching_up.sentence == "Catching up: 1,240 of 10,000 results read. The newest show first."
    assert catching_up.level == "catching-up"


def test_an_unreachable_service_is_named_once_with_what_it_means_for_changes():
    down = status(
        last_contact_at=timezone.now() - timedelta(minutes=5),
        problem="The generation service cannot be reached right now. Please try again in a moment.",
    )
    assert down.level == "stale"
    assert down.sentence.count("cannot be reached") == 1
    assert down.sentence.startswith("Last updated 5\xa0min ago: the generation service cannot be reached.")
    assert "refused until it answers, and nothing is lost" in down.sentence


def test_another_failure_is_given_in_the_services_own_words():
    failing = status(last_contact_at=timezone.now() - timedelta(minutes=2), problem="The API key was refused.")
    assert "cannot be reached (The API key was refused)." in failing.sentence


def test_a_sync_that_stopped_without_an_upstream_failure_does_not_blame_the_service():
    stopped = status(last_contact_at=timezone.now() - timedelta(minutes=10))
    assert stopped.level == "stale"
    assert "cannot be reached" not in stopped.sentence
    assert stopped.sentence.endswith("new results and changes made elsewhere may be missing.")


def test_never_reached_says_only_results_made_here_show():
    assert "only results made here show" in status(last_contact_at=None).sentence
