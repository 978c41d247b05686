"""The application: the unit of work, one handler per workflow, the policies that carry a
reaction from one workflow to another, and the ServiceOrderApp facade.
"""
