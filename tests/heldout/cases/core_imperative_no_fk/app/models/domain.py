class Account:
    def __init__(self, username, is_admin=False):
        self.username = username
        self.is_admin = is_admin


class Dag:
    def __init__(self, dag_id, schedule=None, owner=None):
        self.dag_id = dag_id
        self.schedule = schedule
        self.owner = owner


class DagRun:
    def __init__(self, dag, run_id, state="queued"):
        self.dag = dag
        self.run_id = run_id
        self.state = state


class TaskInstance:
    def __init__(self, run, task_id):
        self.run = run
        self.task_id = task_id
