"""The README's main job, ``python -m sktransfer.tour``, runs and prints its table."""

from sktransfer import tour


def test_tour_prints_a_results_table(capsys):
    tour.main()
    out = capsys.readouterr().out
    assert "DANNClassifier (defaults)" in out
    assert "ProgressiveNetClassifier" in out
    assert "FineTuneClassifier" in out
    rows = [line for line in out.splitlines()
            if line.startswith(("domain adaptation", "progressive", "fine-tuning"))]
    assert len(rows) == 6
    # Each transfer method beats its own baseline on the tour's data.
    accuracy = [float(line.split("±")[0].split()[-1]) for line in rows]
    assert accuracy[1] > accuracy[0] and accuracy[3] > accuracy[2] and accuracy[5] > accuracy[4]
