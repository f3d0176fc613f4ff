# nbgrader reads this from the repository root: solutions/ is the source, notebooks/ the release.
#   nbgrader generate_assignment reproduce --force   (what `./course regenerate` runs for every level)
c = get_config()  # noqa: F821
import os
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = ".nbgrader/submitted"
c.CourseDirectory.autograded_directory = ".nbgrader/autograded"
c.CourseDirectory.feedback_directory = ".nbgrader/feedback"
c.CourseDirectory.db_url = "sqlite:///.nbgrader/gradebook.db"
c.CourseDirectory.course_id = "textclass"
c.GenerateAssignment.create_assignment = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
