import { useEffect, useRef, useState } from 'react';
import { session } from './api.ts';
import { href, Link, useRoute } from './router.tsx';
import { SignIn } from './screens/SignIn.tsx';
import { isManageRoute, ManageScreen, manageHref, Overview } from './screens/manage/index.tsx';
import { ProjectServices } from './screens/ProjectServices.tsx';
import { ServicePage } from './screens/ServicePage.tsx';
import { AddonPage } from './screens/AddonPage.tsx';
import { PipelineBoard } from './screens/pipelines/PipelineBoard.tsx';
import { LogSinks } from './screens/observe/LogSinks.tsx';
import { Notifications } from './screens/observe/Notifications.tsx';

export function App() {
  const [signedIn, setSignedIn] = useState(() => session.token() !== null);
  const route = useRoute();
  const main = useRef<HTMLElement>(null);

  // A token the API refuses ends the session: back to the sign-in form.
  useEffect(() => {
    const onUnauthorized = () => {
      session.signOut();
      setSignedIn(false);
    };
    window.addEventListener('slipway:unauthorized', onUnauthorized);
    return () => window.removeEventListener('slipway:unauthorized', onUnauthorized);
  }, []);

  // After navigating, move focus to the new screen's heading, as a page load would for screen readers.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route]);

  const signOut = () => {
    session.signOut();
    setSignedIn(false);
  };

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to={href.projects()} className="brand">
          slipway
        </Link>
        {signedIn && (
          <nav aria-label="Main" className="top-nav">
            <Link to={href.projects()}>Projects</Link>
            <Link to={manageHref.tokens()}>Tokens</Link>
            <Link to={manageHref.registries()}>Registries</Link>
            <Link to={href.logSinks()}>Log sinks</Link>
            <Link to={href.notifications()}>Notifications</Link>
            <button type="button" className="link" onClick={signOut}>
              Sign out
            </button>
          </nav>
        )}
      </header>
      <main id="main" ref={main}>
        {!signedIn ? (
          <SignIn onSignedIn={() => setSignedIn(true)} />
        ) : route.name === 'projects' ? (
          <Overview />
        ) : isManageRoute(route) ? (
          <ManageScreen route={route} />
        ) : route.name === 'project' ? (
          <ProjectServices project={route.project} />
        ) : route.name === 'addon' ? (
          <AddonPage key={`${route.project}/${route.addon}`} project={route.project} addon={route.addon} />
        ) : route.name === 'pipeline' ? (
          <PipelineBoard key={`${route.project}/${route.pipeline}`} project={route.project} pipeline={route.pipeline} />
        ) : route.name === 'log-sinks' ? (
          <LogSinks />
        ) : route.name === 'notifications' ? (
          <Notifications />
        ) : route.name === 'service' ? (
          <ServicePage key={`${route.project}/${route.service}`} project={route.project} service={route.service} />
        ) : (
          <section>
            <h1 tabIndex={-1}>Not found</h1>
            <p>
              Nothing lives at <code>{route.path}</code>. <Link to={href.projects()}>See all projects</Link>.
            </p>
          </section>
        )}
      </main>
    </>
  );
}
