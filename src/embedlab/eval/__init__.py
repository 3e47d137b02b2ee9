"""Evaluation: tasks with declared data, metric and main score, runnable on any Embedder.

>>> from embedlab import eval as ev
>>> ev.run("minilm", ["sts"])          # list of TaskResult (plain data via .to_dict())
"""

from embedlab.eval.base import Task, TaskResult, get_task, run, task_names

__all__ = ["Task", "TaskResult", "get_task", "run", "task_names"]
